#include "proxy/memory_stats.h"

#include <malloc.h>

#include <cstddef>

// gperftools' C interface, weak: bound when the process links tcmalloc (meshproxy does), null when
// it does not.
extern "C" int MallocExtension_GetNumericProperty(const char* property, size_t* value) __attribute__((weak));

namespace meshd::proxy {

namespace {

uint64_t property(const char* name) {
  size_t value = 0;
  return MallocExtension_GetNumericProperty(name, &value) ? value : 0;
}

}  // namespace

MemoryStats memoryStats() {
  MemoryStats m;
  if (MallocExtension_GetNumericProperty) {
    m.allocated = property("generic.current_allocated_bytes");
    m.heapSize = property("generic.heap_size");
    m.pageheapUnmapped = property("tcmalloc.pageheap_unmapped_bytes");
    m.pageheapFree = property("tcmalloc.pageheap_free_bytes");
    m.totalThreadCache = property("tcmalloc.current_total_thread_cache_bytes");
    m.totalPhysicalBytes = property("generic.total_physical_bytes");
    return m;
  }
  struct mallinfo2 info = mallinfo2();
  m.allocated = info.uordblks + info.hblkhd;
  m.heapSize = info.arena + info.hblkhd;
  m.pageheapFree = info.fordblks;
  m.totalPhysicalBytes = m.heapSize;
  return m;
}

}  // namespace meshd::proxy
