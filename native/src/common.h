// Shared definitions for the tuneloop native kernels: element types, aligned buffers and
// per-thread scratch space (so hot paths do not allocate on every call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

#include <omp.h>

namespace tuneloop {

enum class DType : int { F32 = 0, BF16 = 1, F16 = 2 };

inline size_t dtypeSize(DType t) { return t == DType::F32 ? 4 : 2; }

// Frees a buffer from allocAligned: small ones came from malloc, large ones are their own mapping.
struct BufferDeleter {
  size_t mappedBytes = 0;  // 0 for malloc'd buffers
  void operator()(void* p) const;
};
using AlignedBuffer = std::unique_ptr<void, BufferDeleter>;

// Zero-filled, 64-byte aligned memory (AVX-512 loads stay on single cache lines). Buffers of 4 MB and more
// (weights, big scratch) are mapped directly, 2 MB aligned and offered transparent huge pages:
// kept out of the malloc heap, freeing them returns the memory to the system instead of leaving
// holes between the loader's transient buffers, and streaming them costs fewer TLB misses.
AlignedBuffer allocAligned(size_t bytes);

// Offers transparent huge pages for the 2 MB aligned interior of a large buffer we did not
// allocate (a fresh JS output array): its first touch then faults in 2 MB pages rather than
// 4 KB ones. Faulting in 4 KB pages costs more than an elementwise kernel's arithmetic.
void adviseHugePages(void* p, size_t bytes);

// A growable buffer that keeps its capacity between calls. Used thread_local, it gives each
// OpenMP worker (and each JS thread) reusable scratch memory.
class Scratch {
 public:
  template <typename T>
  T* get(size_t count) {
    size_t bytes = count * sizeof(T);
    if (bytes > capacity_) {
      buffer_ = allocAligned(bytes);
      capacity_ = bytes;
    }
    return static_cast<T*>(buffer_.get());
  }

 private:
  AlignedBuffer buffer_;
  size_t capacity_ = 0;
};

// Below this many elements, elementwise kernels run on the calling thread: waking the OpenMP
// team costs more than the work.
constexpr int64_t kParallelElements = 1 << 15;

// Below this many multiply-adds, a matmul or attention call runs on the calling thread. The
// threads wait passively (src/engine/backends/native.ts sets OMP_WAIT_POLICY), so each parallel
// region costs a futex wake and a reschedule of the sleeping workers, and on a busy machine it
// can wait a whole scheduler slice for a descheduled one; a decoding step of a small model is
// dozens of such tiny calls.
constexpr int64_t kParallelMultiplyAdds = 1 << 20;

// While alive, limits the calling thread's OpenMP team to one thread when `multiplyAdds` is below
// kParallelMultiplyAdds. oneDNN sizes its primitives and its parallel regions from
// omp_get_max_threads(), which is part of our primitive cache keys, so this reaches inside oneDNN
// where an `if` clause cannot. The previous count is restored on exit, exceptions included.
class OneThreadForSmallWork {
 public:
  explicit OneThreadForSmallWork(int64_t multiplyAdds) : saved_(omp_get_max_threads()) {
    lowered_ = multiplyAdds < kParallelMultiplyAdds && saved_ > 1;
    if (lowered_) omp_set_num_threads(1);
  }
  ~OneThreadForSmallWork() {
    if (lowered_) omp_set_num_threads(saved_);
  }
  OneThreadForSmallWork(const OneThreadForSmallWork&) = delete;
  OneThreadForSmallWork& operator=(const OneThreadForSmallWork&) = delete;

 private:
  int saved_;
  bool lowered_;
};

}  // namespace tuneloop
