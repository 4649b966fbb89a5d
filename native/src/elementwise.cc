// Elementwise ops on activations (the residual add).
#include "kernels.h"

namespace tuneloop {

void addInPlace(float* dst, const float* src, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

}  // namespace tuneloop
