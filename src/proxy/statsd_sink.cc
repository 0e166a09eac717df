#include "proxy/statsd_sink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>

namespace meshd::proxy {

namespace {

// A non-blocking datagram socket to the sink's address: connected for UDP, and for a pipe the path
// in `pipe` (each send names it: a statsd that starts later is found); -1 with `why` otherwise.
int open(const envoy::config::core::v3::Address& address, std::string& why, std::optional<sockaddr_un>& pipe) {
  if (address.has_pipe()) {
    const std::string& path = address.pipe().path();
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof un.sun_path) {
      why = "dog_statsd pipe path '" + path + "' is empty or too long";
      return -1;
    }
    std::memcpy(un.sun_path, path.data(), path.size());
    pipe = un;
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) why = std::string("dog_statsd socket: ") + std::strerror(errno);
    return fd;
  }
  const auto& sa = address.socket_address();
  if (sa.protocol() != envoy::config::core::v3::SocketAddress::UDP) {
    why = "dog_statsd address " + sa.address() + " must be UDP";
    return -1;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, sa.address().c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(sa.port_value()));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, sa.address().c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(sa.port_value()));
    len = sizeof *v6;
  } else {
    why = "dog_statsd address '" + sa.address() + "' is not an IP address";  // as Envoy: no name lookup
    return -1;
  }
  if (sa.port_value() == 0 || sa.port_value() > 65535) {
    why = "dog_statsd port " + std::to_string(sa.port_value()) + " is not 1..65535";
    return -1;
  }
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    why = std::string("dog_statsd socket: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (fd < 0) why = std::string("dog_statsd socket: ") + std::strerror(errno);
  return fd;
}

}  // namespace

StatusOr<std::unique_ptr<DogStatsdSink>> DogStatsdSink::make(const envoy::config::metrics::v3::DogStatsdSink& config,
                                                             std::shared_ptr<const TagProducer> tags) {
  std::string why;
  std::optional<sockaddr_un> pipe;
  int fd = open(config.address(), why, pipe);
  if (fd < 0) return badRequest(why);
  std::string prefix = config.prefix().empty() ? "envoy" : config.prefix();  // Envoy's default
  size_t maxBytes = config.has_max_bytes_per_datagram() ? config.max_bytes_per_datagram().value() : 0;
  LatencyHistogram::tap(true);
  auto sink = std::unique_ptr<DogStatsdSink>(new DogStatsdSink(fd, std::move(prefix), maxBytes, std::move(tags)));
  sink->pipe_ = pipe;
  return sink;
}

DogStatsdSink::DogStatsdSink(int fd, std::string prefix, size_t maxBytes, std::shared_ptr<const TagProducer> tags)
    : fd_(fd), prefix_(std::move(prefix)), maxBytes_(maxBytes), tags_(std::move(tags)) {}

DogStatsdSink::~DogStatsdSink() {
  LatencyHistogram::tap(false);
  ::close(fd_);
}

std::string DogStatsdSink::line(const std::string& stat, uint64_t value, const char* type) const {
  TaggedName t = tags_->produce(stat);
  std::string out = prefix_ + "." + t.name + ":" + std::to_string(value) + "|" + type;
  for (size_t i = 0; i < t.tags.size(); ++i) out += (i == 0 ? "|#" : ",") + t.tags[i].first + ":" + t.tags[i].second;
  return out;
}

DogStatsdSink::HistogramValues DogStatsdSink::take(const std::vector<StatsRegistry::NamedHistogram>& histograms) {
  HistogramValues out;
  for (const auto& h : histograms) {
    std::vector<uint64_t> v = h.histogram->takeKept();
    if (!v.empty()) out.emplace_back(h.name, std::move(v));
  }
  return out;
}

void DogStatsdSink::flush(const StatValues& stats, const HistogramValues& histograms) {
  for (const auto& [name, value] : stats) {
    if (isGauge(name)) {
      // Envoy sends a gauge once it was ever set; ours exist from the start: once it was not 0.
      if (value != 0) usedGauges_.insert(name);
      if (usedGauges_.count(name)) write(line(name, value, "g"));
      continue;
    }
    if (value == 0) continue;  // never incremented: not used yet
    uint64_t& last = last_[name];
    write(line(name, value - std::min(last, value), "c"));  // a used counter goes out with 0 too
    last = value;
  }
  for (const auto& [name, values] : histograms) {
    for (uint64_t v : values) write(line(name, v, "ms"));
  }
  send();
}

void DogStatsdSink::write(const std::string& line) {
  if (!pending_.empty() && pending_.size() + 1 + line.size() > maxBytes_) send();
  if (!pending_.empty()) pending_ += '\n';
  pending_ += line;
  if (pending_.size() >= maxBytes_) send();
}

void DogStatsdSink::send() {
  if (pending_.empty()) return;
  // Best effort, as any statsd client's: a datagram nobody takes is dropped.
  if (pipe_) {
    (void)::sendto(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&*pipe_), sizeof *pipe_);
  } else {
    (void)::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  pending_.clear();
}

}  // namespace meshd::proxy
