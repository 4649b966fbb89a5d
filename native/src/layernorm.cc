// LayerNorm over the last dimension with biased variance. Mean and variance are accumulated in
// double (two passes) so the result matches a float64 reference to float32 rounding.
#include "kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace tuneloop {

namespace {

struct RowStatistics {
  double mean, rstd;
};

// Mean and 1/sqrt(biased variance + eps) of one row, in double, two passes; shared by forward and
// backward so that the backward normalises exactly as the forward did.
RowStatistics rowStatistics(const float* xr, int64_t dim, double eps) {
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
  return {mean, 1.0 / std::sqrt(squares / static_cast<double>(dim) + eps)};
}

}  // namespace

void layernormForward(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, double eps,
                      float* out) {
#pragma omp parallel for schedule(static) if (rows * dim > kParallelElements)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * dim;
    float* yr = out + r * dim;
    const auto [mean, inv] = rowStatistics(xr, dim, eps);
#pragma omp simd
    for (int64_t i = 0; i < dim; i++) {
      yr[i] = static_cast<float>((xr[i] - mean) * inv * gamma[i] + beta[i]);
    }
  }
}

// Per row, with x̂ = (x − mean)·rstd and g = dy·gamma (statistics recomputed in double):
//   dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)),  dGamma += dy·x̂,  dBeta += dy.
// Each thread accumulates dGamma and dBeta for a contiguous range of rows in double; the partials
// are added in thread order, so the result does not depend on scheduling.
void layernormBackward(const float* x, const float* dy, int64_t rows, int64_t dim, const float* gamma, double eps,
                       float* dx, float* dGamma, float* dBeta) {
  const bool parallel = rows * dim > kParallelElements && rows > 1;
  const int threads = parallel ? omp_get_max_threads() : 1;
  thread_local Scratch partialScratch;
  double* partials = partialScratch.get<double>(static_cast<size_t>(threads) * 2 * dim);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    double* accGamma = partials + static_cast<int64_t>(t) * 2 * dim;
    double* accBeta = accGamma + dim;
    std::fill(accGamma, accGamma + 2 * dim, 0.0);
    const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * dim;
      const float* dyr = dy + r * dim;
      float* dxr = dx + r * dim;
      const auto [mean, rstd] = rowStatistics(xr, dim, eps);
      double sumG = 0.0, sumGX = 0.0;
#pragma omp simd reduction(+ : sumG, sumGX)
      for (int64_t i = 0; i < dim; i++) {
        const double xhat = (xr[i] - mean) * rstd;
        const double g = static_cast<double>(dyr[i]) * gamma[i];
        sumG += g;
        sumGX += g * xhat;
        accGamma[i] += static_cast<double>(dyr[i]) * xhat;
        accBeta[i] += dyr[i];
      }
      const double meanG = sumG / static_cast<double>(dim), meanGX = sumGX / static_cast<double>(dim);
#pragma omp simd
      for (int64_t i = 0; i < dim; i++) {
        const double xhat = (xr[i] - mean) * rstd;
        const double g = static_cast<double>(dyr[i]) * gamma[i];
        dxr[i] = static_cast<float>(rstd * (g - meanG - xhat * meanGX));
      }
    }
#pragma omp barrier
    const int64_t c0 = dim * t / nt, c1 = dim * (t + 1) / nt;
    for (int64_t c = c0; c < c1; c++) {
      double totalGamma = 0.0, totalBeta = 0.0;
      for (int i = 0; i < nt; i++) {
        totalGamma += partials[static_cast<int64_t>(i) * 2 * dim + c];
        totalBeta += partials[static_cast<int64_t>(i) * 2 * dim + dim + c];
      }
      dGamma[c] = static_cast<float>(totalGamma);
      dBeta[c] = static_cast<float>(totalBeta);
    }
  }
}

}  // namespace tuneloop
