// LayerNorm over the last dimension with biased variance. Mean and variance are accumulated in
// double (two passes) so the result matches a float64 reference to float32 rounding.
#include "kernels.h"

#include <cmath>

namespace tuneloop {

void layernormForward(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, double eps,
                      float* out) {
#pragma omp parallel for schedule(static) if (rows * dim > kParallelElements)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * dim;
    float* yr = out + r * dim;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < dim; i++) sum += xr[i];
    const double mean = sum / static_cast<double>(dim);
    double squares = 0.0;
#pragma omp simd reduction(+ : squares)
    for (int64_t i = 0; i < dim; i++) {
      const double d = xr[i] - mean;
      squares += d * d;
    }
    const double inv = 1.0 / std::sqrt(squares / static_cast<double>(dim) + eps);
#pragma omp simd
    for (int64_t i = 0; i < dim; i++) {
      yr[i] = static_cast<float>((xr[i] - mean) * inv * gamma[i] + beta[i]);
    }
  }
}

}  // namespace tuneloop
