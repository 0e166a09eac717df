#pragma once
// A worker's event loop. Blocking in epoll_wait the moment the loop runs dry means that every packet
// arriving while it sleeps wakes this thread from the sender's CPU, a cross-CPU wakeup the sender
// pays for (several µs in a VM: the load generator's and the upstream's CPU, in bench/proxy). Under
// load the next event is microseconds away, so the loop first naps on its own timer, up to `naps`
// times, and polls after each nap: what arrived meanwhile is taken in one batch and its senders only
// queued it. An idle loop blocks after its naps as any other. This is the kernel's proposed epoll
// "min_wait" done in user space. Envoy's loop blocks at once: `nap` zero does the same.

#include <boost/asio/io_context.hpp>

#include <chrono>

namespace meshd::proxy {

struct Coalescing {
  std::chrono::microseconds nap{20};
  // One: two naps took about as many requests per second on 2 shared cores, with a worse p99
  // (session 10's runs in the README).
  int naps = 1;
};

// Runs `io` until it is stopped, on the calling thread.
void runLoop(boost::asio::io_context& io, Coalescing coalescing);

}  // namespace meshd::proxy
