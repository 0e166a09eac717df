#pragma once
// A counter that every worker adds to on each read and write (the byte counts): one cache line per
// shard, a thread adding to its own, so workers do not bounce a shared line between them as they
// would with one atomic. Reading sums the shards. Header-only: the request path's I/O (proxy_io)
// counts through it.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace meshd::proxy {

class ShardedCounter {
 public:
  void add(uint64_t n) { shards_[shard()].value.fetch_add(n, std::memory_order_relaxed); }
  uint64_t load() const {
    uint64_t sum = 0;
    for (const auto& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr size_t kShards = 8;
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  // Threads take shards in turn as they first count: a proxy's few workers each get their own.
  static size_t shard() {
    static std::atomic<size_t> next{0};
    thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return mine;
  }
  std::array<Shard, kShards> shards_;
};

}  // namespace meshd::proxy
