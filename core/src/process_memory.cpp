#include "buildd/process_memory.hpp"

#include <malloc.h>

namespace buildd {

void limit_heap_growth() {
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  ::mallopt(M_ARENA_MAX, 4);
}

}  // namespace buildd
