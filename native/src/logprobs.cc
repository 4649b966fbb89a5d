// Per-row log-softmax read at a target token, plus lm-evaluation-harness's is_greedy (the target
// is the row's argmax, first index on ties). Rows are long (BLOOM's vocabulary is 250880), so the
// max and the exp-sum are vectorized; the sum accumulates in double.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"
#include "vecmath.h"

namespace tuneloop {

namespace {

// NaNs are skipped, as a `>` scan from -inf skips them.
float rowMax(const float* x, int64_t n) {
  float best = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 m0 = ninf, m1 = ninf;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
  }
  best = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
#elif defined(__AVX2__)
  // maxps returns its second operand when either is NaN, so NaNs in x are skipped here as well.
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 m0 = ninf, m1 = ninf;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(m0, m1));
  for (float lane : lanes)
    if (lane > best) best = lane;
#endif
  for (; i < n; i++)
    if (x[i] > best) best = x[i];
  return best;
}

double sumExpShifted(const float* x, int64_t n, float shift) {
  int64_t i = 0;
  double total = 0.0;
#if defined(__AVX512F__)
  const __m512 s = _mm512_set1_ps(shift);
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s)));
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  total = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 s = _mm256_set1_ps(shift);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(lo, hi));
  total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
  for (; i < n; i++) total += std::exp(static_cast<double>(x[i] - shift));
  return total;
}

}  // namespace

void tokenLogProbsForward(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, float* logProbs,
                          uint8_t* isGreedy) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * vocab > kParallelElements)
  for (int64_t r = 0; r < rows; r++) {
    const float* row = logits + r * vocab;
    const int64_t target = targets[r];
    const float max = rowMax(row, vocab);
    int64_t argmax = 0;
    for (int64_t j = 0; j < vocab; j++) {
      if (row[j] == max) {
        argmax = j;
        break;
      }
    }
    const double lse = static_cast<double>(max) + std::log(sumExpShifted(row, vocab, max));
    logProbs[r] = static_cast<float>(static_cast<double>(row[target]) - lse);
    isGreedy[r] = argmax == target ? 1 : 0;
  }
}

}  // namespace tuneloop

namespace tuneloop {

// Per counted row: loss = logsumexp(row) − row[target] (the sum in double), and
// dLogits = scale · (exp(row − max) / Σ − onehot), the exps recomputed in the write pass (cheaper
// than storing and re-reading them for rows of 250880).
double crossEntropy(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, float scale,
                    float* dLogits, int64_t* counted) {
  double lossSum = 0.0;
  int64_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : lossSum, count) if (rows > 1 && rows * vocab > kParallelElements)
  for (int64_t r = 0; r < rows; r++) {
    const float* row = logits + r * vocab;
    float* out = dLogits + r * vocab;
    const int64_t target = targets[r];
    if (target < 0) {
      std::fill(out, out + vocab, 0.0f);
      continue;
    }
    const float max = rowMax(row, vocab);
    const double total = sumExpShifted(row, vocab, max);
    lossSum += static_cast<double>(max) + std::log(total) - static_cast<double>(row[target]);
    count++;
    const float factor = static_cast<float>(static_cast<double>(scale) / total);
    int64_t j = 0;
#if defined(__AVX512F__)
    const __m512 s = _mm512_set1_ps(max), f = _mm512_set1_ps(factor);
    for (; j < vocab; j += 16) {
      const __mmask16 m = vocab - j >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (vocab - j)) - 1);
      const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), s));
      _mm512_mask_storeu_ps(out + j, m, _mm512_mul_ps(e, f));
    }
#elif defined(__AVX2__) && defined(__FMA__)
    const __m256 s = _mm256_set1_ps(max), f = _mm256_set1_ps(factor);
    for (; j + 8 <= vocab; j += 8) {
      _mm256_storeu_ps(out + j, _mm256_mul_ps(exp256(_mm256_sub_ps(_mm256_loadu_ps(row + j), s)), f));
    }
#endif
    for (; j < vocab; j++) out[j] = std::exp(row[j] - max) * factor;
    out[target] -= scale;
  }
  *counted = count;
  return lossSum;
}

}  // namespace tuneloop
