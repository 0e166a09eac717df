#pragma once
// What the allocator holds, as Envoy's /memory and server.memory_* gauges report it. meshproxy runs
// on tcmalloc (gperftools), as Envoy; a process without it (the tests) reports glibc's figures.

#include <cstdint>

namespace meshd::proxy {

struct MemoryStats {
  uint64_t allocated = 0;           // in use by the program (generic.current_allocated_bytes)
  uint64_t heapSize = 0;            // reserved by the allocator (generic.heap_size)
  uint64_t pageheapUnmapped = 0;    // free and given back to the kernel
  uint64_t pageheapFree = 0;        // free, still mapped
  uint64_t totalThreadCache = 0;    // in the per-thread caches
  uint64_t totalPhysicalBytes = 0;  // resident (generic.total_physical_bytes)
};

MemoryStats memoryStats();

}  // namespace meshd::proxy
