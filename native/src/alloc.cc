#include <sys/mman.h>

#include <cstdint>
#include <cstring>

#include "common.h"

namespace tuneloop {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kMapThreshold = 2 * kHugePage;

}  // namespace

void BufferDeleter::operator()(void* p) const {
  if (mappedBytes != 0) {
    munmap(p, mappedBytes);
  } else {
    std::free(p);
  }
}

AlignedBuffer allocAligned(size_t bytes) {
  if (bytes < kMapThreshold) {
    const size_t size = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, size);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, size);
    return AlignedBuffer(p, BufferDeleter{0});
  }
  const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Anonymous mappings come zero-filled. Map one huge page extra, then trim both ends to a 2 MB
  // aligned range.
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = (start + size + kHugePage) - (aligned + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  void* p = reinterpret_cast<void*>(aligned);
#if defined(MADV_HUGEPAGE)
  madvise(p, size, MADV_HUGEPAGE);
#endif
  return AlignedBuffer(p, BufferDeleter{size});
}

void adviseHugePages(void* p, size_t bytes) {
#if defined(MADV_HUGEPAGE)
  if (bytes < kMapThreshold) return;
  const uintptr_t start = (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) / kHugePage * kHugePage;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) / kHugePage * kHugePage;
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace tuneloop
