// Elementwise ops on activations (the residual add) and the bias gradient (sum over rows).
#include <omp.h>

#include <algorithm>

#include "kernels.h"

namespace tuneloop {

void addInPlace(float* dst, const float* src, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

}  // namespace tuneloop

namespace tuneloop {

// Each thread sums a contiguous range of rows into its own double partials; the partials are then
// added in thread order, so the result does not depend on scheduling.
void sumRows(const float* dy, int64_t rows, int64_t cols, float* out) {
  const bool parallel = rows * cols > kParallelElements && rows > 1;
  const int threads = parallel ? omp_get_max_threads() : 1;
  thread_local Scratch partialScratch;
  double* partials = partialScratch.get<double>(static_cast<size_t>(threads) * cols);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    double* acc = partials + static_cast<int64_t>(t) * cols;
    std::fill(acc, acc + cols, 0.0);
    const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    for (int64_t r = r0; r < r1; r++) {
      const float* row = dy + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) acc[c] += row[c];
    }
#pragma omp barrier
    const int64_t c0 = cols * t / nt, c1 = cols * (t + 1) / nt;
    for (int64_t c = c0; c < c1; c++) {
      double total = 0.0;
      for (int i = 0; i < nt; i++) total += partials[static_cast<int64_t>(i) * cols + c];
      out[c] = static_cast<float>(total);
    }
  }
}

}  // namespace tuneloop
