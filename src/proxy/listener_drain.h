#pragma once
// What happens to connections a listener accepted once that listener is replaced or removed: they
// must not go on serving under the old listener (its address, its filter chains) for as long as a
// caller keeps its pooled connection alive. As Envoy does with `--drain-strategy immediate`, an HTTP
// connection answers the request in flight with `connection: close`, and an idle one is closed now.
// Worker thread only: the drain and the sessions it tracks live on one io_context.

#include "proxy/timed_stream.h"

#include <unordered_set>

namespace meshd::proxy {

class ListenerDrain {
 public:
  bool draining() const { return draining_; }

  // Closes every connection now waiting for its next request; later ones see draining().
  void start() {
    draining_ = true;
    for (auto* s : idle_) s->socket().close();
    idle_.clear();
  }

  // Marks a connection as between requests for as long as it lives, so start() may close it.
  class Idle {
   public:
    Idle(ListenerDrain& d, TimedStream& s) : drain_(d), stream_(&s) { drain_.idle_.insert(stream_); }
    ~Idle() { drain_.idle_.erase(stream_); }
    Idle(const Idle&) = delete;
    Idle& operator=(const Idle&) = delete;

   private:
    ListenerDrain& drain_;
    TimedStream* stream_;
  };

 private:
  bool draining_ = false;
  std::unordered_set<TimedStream*> idle_;
};

}  // namespace meshd::proxy
