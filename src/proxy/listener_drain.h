#pragma once
// What happens to connections a listener accepted once that listener is replaced or removed: they
// must not go on serving under the old listener (its address, its filter chains) for as long as a
// caller keeps its pooled connection alive. As Envoy does with `--drain-strategy immediate`, an HTTP
// connection answers the request in flight with `connection: close`, and an idle one is closed now.
// Worker thread only: the drain and the sessions it tracks live on one io_context.

#include <boost/intrusive/list.hpp>

#include "proxy/timed_stream.h"

namespace meshd::proxy {

class ListenerDrain {
 public:
  bool draining() const { return draining_; }

  // Closes every connection now waiting for its next request; later ones see draining().
  void start() {
    draining_ = true;
    while (!idle_.empty()) {
      Idle& i = idle_.front();
      idle_.pop_front();
      i.stream_.socket().close();
    }
  }

  // Marks a connection as between requests for as long as it lives, so start() may close it. A
  // link in an intrusive list: marking and unmarking, once per request, allocate nothing.
  class Idle : public boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
   public:
    Idle(ListenerDrain& d, TimedStream& s) : stream_(s) { d.idle_.push_back(*this); }
    Idle(const Idle&) = delete;
    Idle& operator=(const Idle&) = delete;

   private:
    friend class ListenerDrain;
    TimedStream& stream_;
  };

 private:
  bool draining_ = false;
  boost::intrusive::list<Idle, boost::intrusive::constant_time_size<false>> idle_;  // unlinked by ~Idle
};

}  // namespace meshd::proxy
