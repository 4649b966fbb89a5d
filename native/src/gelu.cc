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
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; i < n; i += 8) {
    const __m256i m = n - i >= 8 ? _mm256_set1_epi32(-1) : tailMask256(n - i);
    __m256 v = _mm256_maskload_ps(x + i, m);
    __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(kCubic), v), v, one);
    __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(kSqrt2OverPi), v), inner);
    __m256 e = exp256(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
    _mm256_maskstore_ps(out + i, m, _mm256_div_ps(v, _mm256_add_ps(one, e)));
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

namespace tuneloop {

namespace {

// gelu'(x) = σ(2u) + x·σ(2u)(1 − σ(2u))·2·a·(1 + 3c·x²) with u = a·(x + c·x³), since
// 0.5·(1 + tanh u) = σ(2u) and 0.5·(1 − tanh² u) = 2σ(2u)(1 − σ(2u)). With e = exp(−2u),
// σ(2u) = 1 / (1 + e) and σ(2u)(1 − σ(2u)) = e·σ(2u)², which has no cancellation for large x; e is
// capped at 1e30 so that for very negative x it gives 0 (σ² underflows) rather than inf · 0.
void geluBackwardChunk(const float* x, const float* dy, int64_t n, float* dx) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
  const __m512 a = _mm512_set1_ps(kSqrt2OverPi), c = _mm512_set1_ps(kCubic), c3 = _mm512_set1_ps(3.0f * kCubic);
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 v2 = _mm512_mul_ps(v, v);
    const __m512 u = _mm512_mul_ps(_mm512_mul_ps(a, v), _mm512_fmadd_ps(c, v2, one));
    const __m512 e = _mm512_min_ps(exp512(_mm512_mul_ps(_mm512_set1_ps(-2.0f), u)), _mm512_set1_ps(1e30f));
    const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, e));
    const __m512 ss = _mm512_mul_ps(e, _mm512_mul_ps(s, s));
    const __m512 slope = _mm512_mul_ps(_mm512_mul_ps(two, a), _mm512_fmadd_ps(c3, v2, one));
    const __m512 grad = _mm512_fmadd_ps(_mm512_mul_ps(v, ss), slope, s);
    _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(grad, _mm512_maskz_loadu_ps(m, dy + i)));
  }
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  const __m256 a = _mm256_set1_ps(kSqrt2OverPi), c = _mm256_set1_ps(kCubic), c3 = _mm256_set1_ps(3.0f * kCubic);
  for (; i < n; i += 8) {
    const __m256i m = n - i >= 8 ? _mm256_set1_epi32(-1) : tailMask256(n - i);
    const __m256 v = _mm256_maskload_ps(x + i, m);
    const __m256 v2 = _mm256_mul_ps(v, v);
    const __m256 u = _mm256_mul_ps(_mm256_mul_ps(a, v), _mm256_fmadd_ps(c, v2, one));
    const __m256 e = _mm256_min_ps(exp256(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u)), _mm256_set1_ps(1e30f));
    const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
    const __m256 ss = _mm256_mul_ps(e, _mm256_mul_ps(s, s));
    const __m256 slope = _mm256_mul_ps(_mm256_mul_ps(two, a), _mm256_fmadd_ps(c3, v2, one));
    const __m256 grad = _mm256_fmadd_ps(_mm256_mul_ps(v, ss), slope, s);
    _mm256_maskstore_ps(dx + i, m, _mm256_mul_ps(grad, _mm256_maskload_ps(dy + i, m)));
  }
#else
  for (; i < n; i++) {
    const float v = x[i];
    const float u = kSqrt2OverPi * v * (1.0f + kCubic * v * v);
    const float e = std::min(std::exp(-2.0f * u), 1e30f);
    const float s = 1.0f / (1.0f + e);
    const float ss = e * (s * s);
    dx[i] = dy[i] * (s + v * ss * 2.0f * kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v));
  }
#endif
}

}  // namespace

void geluBackward(const float* x, const float* dy, int64_t n, float* dx) {
  const int64_t chunk = 1 << 14;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t start = c * chunk;
    geluBackwardChunk(x + start, dy + start, std::min(chunk, n - start), dx + start);
  }
}

}  // namespace tuneloop
