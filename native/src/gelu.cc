// BLOOM's tanh-form GELU. 0.5·x·(1 + tanh(u)) is evaluated as x / (1 + exp(-2u)), the same value
// without the cancellation of 1 + tanh(u) for negative x, and with one vectorized exp.
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "vecmath.h"

namespace tuneloop {

namespace {

constexpr float kSqrt2OverPi = 0.79788456f;
constexpr float kCubic = 0.044715f;

void geluChunk(const float* x, int64_t n, float* out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(kCubic), v), v, one);
    __m512 u = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(kSqrt2OverPi), v), inner);
    __m512 e = exp512(_mm512_mul_ps(_mm512_set1_ps(-2.0f), u));
    _mm512_mask_storeu_ps(out + i, m, _mm512_div_ps(v, _mm512_add_ps(one, e)));
  }
#else
  for (; i < n; i++) {
    const float v = x[i];
    const float u = kSqrt2OverPi * v * (1.0f + kCubic * v * v);
    out[i] = v / (1.0f + std::exp(-2.0f * u));
  }
#endif
}

}  // namespace

void geluForward(const float* x, int64_t n, float* out) {
  const int64_t chunk = 1 << 14;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t start = c * chunk;
    geluChunk(x + start, std::min(chunk, n - start), out + start);
  }
}

}  // namespace tuneloop
