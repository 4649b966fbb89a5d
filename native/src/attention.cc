// BLOOM self-attention with ALiBi, causal and padding masks, and a KV cache.
//
// Hugging Face fills masked scores with float32's lowest value (not -inf) before the softmax, so
// a query that sees no real key (a left-padding row) gets uniform weights over every key, future
// ones included, while for any other query the masked keys get exactly zero weight. Both cases
// are reproduced here: the first as a plain average of the values, the second by giving masked
// keys a weight of exp(-inf) = 0.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.h"
#include "vecmath.h"

namespace tuneloop {

namespace {

// Queries per task. With fewer (batch, head) pairs than threads, the blocks of one head are
// spread over the threads.
constexpr int64_t kQueryBlock = 32;
// Below this many queries in a block, dot products are computed directly on the K rows.
constexpr int64_t kTransposeMinQueries = 4;
// Keys scored per register tile (four AVX-512 vectors), and queries scored together.
constexpr int64_t kKeyTile = 64;
constexpr int kQueryGroup = 4;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#if defined(__AVX512F__)
// Scores of G queries against 64 keys per tile; each K vector loaded serves all G queries, which
// keeps the loop on the FMA units rather than on loads.
template <int G>
void tileScoresGroup(const float* const* q, const float* keysT, int64_t ldk, int64_t d, int64_t n, float* scores) {
  for (int64_t j0 = 0; j0 < n; j0 += kKeyTile) {
    __m512 acc[G][4];
    for (int g = 0; g < G; g++)
      for (int t = 0; t < 4; t++) acc[g][t] = _mm512_setzero_ps();
    for (int64_t e = 0; e < d; e++) {
      const float* row = keysT + e * ldk + j0;
      const __m512 k0 = _mm512_loadu_ps(row), k1 = _mm512_loadu_ps(row + 16), k2 = _mm512_loadu_ps(row + 32),
                   k3 = _mm512_loadu_ps(row + 48);
      for (int g = 0; g < G; g++) {
        const __m512 qe = _mm512_set1_ps(q[g][e]);
        acc[g][0] = _mm512_fmadd_ps(qe, k0, acc[g][0]);
        acc[g][1] = _mm512_fmadd_ps(qe, k1, acc[g][1]);
        acc[g][2] = _mm512_fmadd_ps(qe, k2, acc[g][2]);
        acc[g][3] = _mm512_fmadd_ps(qe, k3, acc[g][3]);
      }
    }
    for (int g = 0; g < G; g++)
      for (int t = 0; t < 4; t++) _mm512_storeu_ps(scores + g * ldk + j0 + 16 * t, acc[g][t]);
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
// The AVX2 form: 16 registers hold 2 queries x 32 keys of accumulators beside the K vectors, so a
// 64-key tile is scored in two halves and larger query groups in pairs.
template <int G>
void tileScoresGroup(const float* const* q, const float* keysT, int64_t ldk, int64_t d, int64_t n, float* scores) {
  const int64_t end = (n + kKeyTile - 1) / kKeyTile * kKeyTile;
  for (int64_t j0 = 0; j0 < end; j0 += 32) {
    __m256 acc[G][4];
    for (int g = 0; g < G; g++)
      for (int t = 0; t < 4; t++) acc[g][t] = _mm256_setzero_ps();
    for (int64_t e = 0; e < d; e++) {
      const float* row = keysT + e * ldk + j0;
      const __m256 k0 = _mm256_loadu_ps(row), k1 = _mm256_loadu_ps(row + 8), k2 = _mm256_loadu_ps(row + 16),
                   k3 = _mm256_loadu_ps(row + 24);
      for (int g = 0; g < G; g++) {
        const __m256 qe = _mm256_set1_ps(q[g][e]);
        acc[g][0] = _mm256_fmadd_ps(qe, k0, acc[g][0]);
        acc[g][1] = _mm256_fmadd_ps(qe, k1, acc[g][1]);
        acc[g][2] = _mm256_fmadd_ps(qe, k2, acc[g][2]);
        acc[g][3] = _mm256_fmadd_ps(qe, k3, acc[g][3]);
      }
    }
    for (int g = 0; g < G; g++)
      for (int t = 0; t < 4; t++) _mm256_storeu_ps(scores + g * ldk + j0 + 8 * t, acc[g][t]);
  }
}
#endif

// scores[g·ldk + j] = q[g] · K[j] for g < count (<= kQueryGroup) and j < n, from K transposed to
// [d][ldk] (ldk a multiple of kKeyTile, zero past the last key). Whole tiles are written.
void tileScores(const float* const* q, int count, const float* keysT, int64_t ldk, int64_t d, int64_t n, float* scores) {
#if defined(__AVX512F__)
  switch (count) {
    case 1: return tileScoresGroup<1>(q, keysT, ldk, d, n, scores);
    case 2: return tileScoresGroup<2>(q, keysT, ldk, d, n, scores);
    case 3: return tileScoresGroup<3>(q, keysT, ldk, d, n, scores);
    default: return tileScoresGroup<4>(q, keysT, ldk, d, n, scores);
  }
#elif defined(__AVX2__) && defined(__FMA__)
  for (int g = 0; g < count; g += 2) {
    if (count - g >= 2) {
      tileScoresGroup<2>(q + g, keysT, ldk, d, n, scores + g * ldk);
    } else {
      tileScoresGroup<1>(q + g, keysT, ldk, d, n, scores + g * ldk);
    }
  }
#else
  const int64_t tiles = (n + kKeyTile - 1) / kKeyTile * kKeyTile;
  for (int g = 0; g < count; g++) {
    float* row = scores + g * ldk;
    std::fill(row, row + tiles, 0.0f);
    for (int64_t e = 0; e < d; e++)
      for (int64_t j = 0; j < tiles; j++) row[j] += q[g][e] * keysT[e * ldk + j];
  }
#endif
}

// scores[j] = q · K[j] for j < n, K row-major [n][d] (the decoding path: one query per task).
void rowScores(const float* q, const float* keys, int64_t d, int64_t n, float* scores) {
  for (int64_t j = 0; j < n; j++) {
    const float* k = keys + j * d;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t e = 0; e < d; e++) dot += q[e] * k[e];
    scores[j] = dot;
  }
}

// Turns raw dot products into unnormalized softmax weights in place: s·scale + slope·pos for
// real keys, exp(s - max), and 0 for masked keys. Returns the sum of the weights.
float softmaxWeights(float* scores, int64_t n, const uint8_t* mask, const float* positions, float scale, float slope) {
  float max = kNegInf;
  int64_t j = 0;
#if defined(__AVX512F__)
  __m512 vmax = _mm512_set1_ps(kNegInf);
  for (; j < n; j += 16) {
    const __mmask16 tail = n - j >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - j)) - 1);
    const __m128i m = _mm_maskz_loadu_epi8(tail, mask + j);
    const __mmask16 real = _mm_test_epi8_mask(m, m);
    __m512 s = _mm512_maskz_loadu_ps(tail, scores + j);
    s = _mm512_fmadd_ps(s, _mm512_set1_ps(scale), _mm512_mul_ps(_mm512_set1_ps(slope), _mm512_maskz_loadu_ps(tail, positions + j)));
    s = _mm512_mask_blend_ps(real, _mm512_set1_ps(kNegInf), s);
    vmax = _mm512_max_ps(vmax, s);
    _mm512_mask_storeu_ps(scores + j, tail, s);
  }
  max = _mm512_reduce_max_ps(vmax);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 vmax = _mm256_set1_ps(kNegInf);
  for (; j + 8 <= n; j += 8) {
    const __m256i m = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mask + j)));
    const __m256 real = _mm256_castsi256_ps(_mm256_cmpgt_epi32(m, _mm256_setzero_si256()));
    __m256 s = _mm256_loadu_ps(scores + j);
    s = _mm256_fmadd_ps(s, _mm256_set1_ps(scale), _mm256_mul_ps(_mm256_set1_ps(slope), _mm256_loadu_ps(positions + j)));
    s = _mm256_blendv_ps(_mm256_set1_ps(kNegInf), s, real);
    vmax = _mm256_max_ps(vmax, s);
    _mm256_storeu_ps(scores + j, s);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  for (float lane : lanes) max = std::max(max, lane);
#endif
  // The tail (all of it without vectors), with the fused multiply-add the vector lanes use.
  for (; j < n; j++) {
    scores[j] = mask[j] ? std::fma(scores[j], scale, slope * positions[j]) : kNegInf;
    max = std::max(max, scores[j]);
  }
#pragma omp simd
  for (int64_t i = 0; i < n; i++) scores[i] -= max;
  expInPlace(scores, n);
  float total = 0.0f;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; i++) total += scores[i];
  return total;
}

#if defined(__AVX512F__)
// The common case, headDim = 16·C (C <= 8): one accumulator per 16 columns, all in registers.
template <int C>
void weightedValuesFixed(const float* weights, int64_t n, const float* values, float scale, float* out) {
  __m512 acc[C];
  for (int i = 0; i < C; i++) acc[i] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j++) {
    const __m512 w = _mm512_set1_ps(weights[j]);
    const float* v = values + j * 16 * C;
    for (int i = 0; i < C; i++) acc[i] = _mm512_fmadd_ps(w, _mm512_loadu_ps(v + 16 * i), acc[i]);
  }
  for (int i = 0; i < C; i++) _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(acc[i], _mm512_set1_ps(scale)));
}
#endif

#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
// out[0 .. 8C) = scale · Σ_j weights[j] · V[j][0 .. 8C), V rows of stride ldv: C accumulators.
template <int C>
void weightedValueColumns(const float* weights, int64_t n, const float* values, int64_t ldv, float scale, float* out) {
  __m256 acc[C];
  for (int i = 0; i < C; i++) acc[i] = _mm256_setzero_ps();
  for (int64_t j = 0; j < n; j++) {
    const __m256 w = _mm256_set1_ps(weights[j]);
    const float* v = values + j * ldv;
    for (int i = 0; i < C; i++) acc[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 8 * i), acc[i]);
  }
  for (int i = 0; i < C; i++) _mm256_storeu_ps(out + 8 * i, _mm256_mul_ps(acc[i], _mm256_set1_ps(scale)));
}
#endif

// out[e] = scale · Σ_j weights[j] · V[j][e], V row-major [n][d].
void weightedValues(const float* weights, int64_t n, const float* values, int64_t d, float scale, float* out) {
#if defined(__AVX512F__)
  switch (d) {
    case 16: return weightedValuesFixed<1>(weights, n, values, scale, out);
    case 32: return weightedValuesFixed<2>(weights, n, values, scale, out);
    case 48: return weightedValuesFixed<3>(weights, n, values, scale, out);
    case 64: return weightedValuesFixed<4>(weights, n, values, scale, out);
    case 80: return weightedValuesFixed<5>(weights, n, values, scale, out);
    case 96: return weightedValuesFixed<6>(weights, n, values, scale, out);
    case 112: return weightedValuesFixed<7>(weights, n, values, scale, out);
    case 128: return weightedValuesFixed<8>(weights, n, values, scale, out);
    default: break;
  }
  for (int64_t e0 = 0; e0 < d; e0 += 16) {
    const __mmask16 lanes = d - e0 >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (d - e0)) - 1);
    const float* v = values + e0;
    // Four partial sums over keys hide the FMA latency.
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(weights[j]), _mm512_maskz_loadu_ps(lanes, v + j * d), a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(weights[j + 1]), _mm512_maskz_loadu_ps(lanes, v + (j + 1) * d), a1);
      a2 = _mm512_fmadd_ps(_mm512_set1_ps(weights[j + 2]), _mm512_maskz_loadu_ps(lanes, v + (j + 2) * d), a2);
      a3 = _mm512_fmadd_ps(_mm512_set1_ps(weights[j + 3]), _mm512_maskz_loadu_ps(lanes, v + (j + 3) * d), a3);
    }
    for (; j < n; j++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(weights[j]), _mm512_maskz_loadu_ps(lanes, v + j * d), a0);
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    _mm512_mask_storeu_ps(out + e0, lanes, _mm512_mul_ps(sum, _mm512_set1_ps(scale)));
  }
#elif defined(__AVX2__) && defined(__FMA__)
  // Up to 64 columns (8 accumulators) per pass over the keys.
  int64_t e0 = 0;
  for (; e0 + 64 <= d; e0 += 64) weightedValueColumns<8>(weights, n, values + e0, d, scale, out + e0);
  switch ((d - e0) / 8) {
    case 1: weightedValueColumns<1>(weights, n, values + e0, d, scale, out + e0); break;
    case 2: weightedValueColumns<2>(weights, n, values + e0, d, scale, out + e0); break;
    case 3: weightedValueColumns<3>(weights, n, values + e0, d, scale, out + e0); break;
    case 4: weightedValueColumns<4>(weights, n, values + e0, d, scale, out + e0); break;
    case 5: weightedValueColumns<5>(weights, n, values + e0, d, scale, out + e0); break;
    case 6: weightedValueColumns<6>(weights, n, values + e0, d, scale, out + e0); break;
    case 7: weightedValueColumns<7>(weights, n, values + e0, d, scale, out + e0); break;
    default: break;
  }
  e0 += (d - e0) / 8 * 8;
  for (int64_t e = e0; e < d; e++) {
    float sum = 0.0f;
    for (int64_t j = 0; j < n; j++) sum = std::fma(weights[j], values[j * d + e], sum);
    out[e] = sum * scale;
  }
#else
  std::fill(out, out + d, 0.0f);
  for (int64_t j = 0; j < n; j++)
    for (int64_t e = 0; e < d; e++) out[e] += weights[j] * values[j * d + e];
  for (int64_t e = 0; e < d; e++) out[e] *= scale;
#endif
}

struct BlockContext {
  const AttentionShape& s;
  const float* qkv;
  const float* keys;    // [capacity, headDim] of this (batch, head)
  const float* values;  // idem
  const uint8_t* mask;  // [keyLen] of this batch row
  const float* positions;
  int64_t firstReal;  // first unmasked key of this batch row (keyLen if none)
  float slope;
  float scale;
  int64_t b, h;
  uint64_t call;  // distinguishes calls for the transposed-key cache
};

// K of one (batch, head) transposed to [headDim][ldk], kept per thread: a thread handles the
// query blocks of a head from the last (which sees every key) to the first, so one transpose
// serves them all.
struct TransposedKeys {
  uint64_t call = 0;
  const float* keys = nullptr;
  int64_t keyCount = 0;
  float* data = nullptr;
};

const float* transposedKeys(const BlockContext& c, int64_t ldk, int64_t kEnd) {
  thread_local Scratch storage;
  thread_local TransposedKeys cached;
  if (cached.call == c.call && cached.keys == c.keys && cached.keyCount >= kEnd) return cached.data;
  const int64_t d = c.s.headDim;
  float* keysT = storage.get<float>(d * ldk);
  // Column blocks of 16 keep the writes to a few cache lines at a time.
  for (int64_t e0 = 0; e0 < d; e0 += 16) {
    const int64_t e1 = std::min(d, e0 + 16);
    for (int64_t j = 0; j < kEnd; j++)
      for (int64_t e = e0; e < e1; e++) keysT[e * ldk + j] = c.keys[j * d + e];
  }
  // Zero the tile padding: stale scratch could hold denormals, which slow the FMAs down.
  for (int64_t e = 0; e < d; e++) std::fill(keysT + e * ldk + kEnd, keysT + (e + 1) * ldk, 0.0f);
  cached = {c.call, c.keys, kEnd, keysT};
  return keysT;
}

void attendBlock(const BlockContext& c, int64_t i0, int64_t i1, float* context) {
  const AttentionShape& s = c.s;
  const int64_t d = s.headDim;
  const int64_t keyLen = s.pastLen + s.queryLen;
  const int64_t ldk = (keyLen + kKeyTile - 1) / kKeyTile * kKeyTile;
  const bool transposed = i1 - i0 >= kTransposeMinQueries;

  thread_local Scratch scoreScratch;
  float* scores = scoreScratch.get<float>(kQueryGroup * ldk);
  // A thread gets the blocks of a head last-first (see attentionForward), so the first one
  // transposes every key the later ones need.
  const float* keysT = transposed ? transposedKeys(c, ldk, s.pastLen + i1) : nullptr;

  auto query = [&](int64_t i) { return c.qkv + ((c.b * s.queryLen + i) * s.heads + c.h) * 3 * d; };
  auto output = [&](int64_t i) { return context + ((c.b * s.queryLen + i) * s.heads + c.h) * d; };
  for (int64_t g0 = i0; g0 < i1; g0 += kQueryGroup) {
    const int count = static_cast<int>(std::min<int64_t>(kQueryGroup, i1 - g0));
    const int64_t lastKeys = s.pastLen + g0 + count;  // keys seen by the group's last query
    if (transposed) {
      const float* q[kQueryGroup];
      for (int g = 0; g < count; g++) q[g] = query(g0 + g);
      tileScores(q, count, keysT, ldk, d, lastKeys, scores);
    }
    for (int g = 0; g < count; g++) {
      const int64_t i = g0 + g;
      const int64_t position = s.pastLen + i;
      float* row = scores + g * ldk;
      if (c.firstReal > position) {
        std::fill(row, row + keyLen, 1.0f);
        weightedValues(row, keyLen, c.values, d, 1.0f / static_cast<float>(keyLen), output(i));
        continue;
      }
      const int64_t n = position + 1;
      if (!transposed) rowScores(query(i), c.keys, d, n, row);
      const float total = softmaxWeights(row, n, c.mask, c.positions, c.scale, c.slope);
      weightedValues(row, n, c.values, d, 1.0f / total, output(i));
    }
  }
}

// Copies this call's keys and values out of the fused qkv rows into the caches, after pastLen.
void appendKeysValues(const AttentionShape& s, const float* qkv, float* keyCache, float* valueCache) {
  const int64_t B = s.batch, T = s.queryLen, H = s.heads, D = s.headDim;
#pragma omp parallel for collapse(2) schedule(static) if (B * H * T * D > kParallelElements)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < H; h++) {
      const int64_t cacheBase = ((b * H + h) * s.capacity + s.pastLen) * D;
      for (int64_t t = 0; t < T; t++) {
        const float* src = qkv + ((b * T + t) * H + h) * 3 * D;
        std::memcpy(keyCache + cacheBase + t * D, src + D, D * sizeof(float));
        std::memcpy(valueCache + cacheBase + t * D, src + 2 * D, D * sizeof(float));
      }
    }
  }
}

// ALiBi positions count real tokens only: pos = (cumsum(mask) - 1) · mask; firstReal[b] is the index
// of row b's first real key (keyLen when it has none).
void alibiPositions(const uint8_t* mask, int64_t batch, int64_t keyLen, float* positions, int64_t* firstReal) {
  for (int64_t b = 0; b < batch; b++) {
    int64_t seen = 0;
    firstReal[b] = keyLen;
    for (int64_t j = 0; j < keyLen; j++) {
      const int64_t real = mask[b * keyLen + j] ? 1 : 0;
      if (real && seen == 0) firstReal[b] = j;
      seen += real;
      positions[b * keyLen + j] = static_cast<float>((seen - 1) * real);
    }
  }
}

}  // namespace

void attentionForward(const AttentionShape& s, const float* qkv, float* keyCache, float* valueCache,
                      const uint8_t* mask, const float* slopes, float* context) {
  const int64_t B = s.batch, T = s.queryLen, H = s.heads, D = s.headDim;
  const int64_t keyLen = s.pastLen + T;
  appendKeysValues(s, qkv, keyCache, valueCache);
  thread_local Scratch positionScratch, firstScratch;
  float* positions = positionScratch.get<float>(B * keyLen);
  int64_t* firstReal = firstScratch.get<int64_t>(B);
  alibiPositions(mask, B, keyLen, positions, firstReal);

  static std::atomic<uint64_t> calls{0};
  const uint64_t call = ++calls;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  const int64_t queryBlocks = (T + kQueryBlock - 1) / kQueryBlock;
  const int64_t tasks = B * H * queryBlocks;
  // Given enough heads, each thread takes whole heads (all their query blocks, which evens out the
  // causal triangle), so the blocks of a head share its transposed keys.
  const int64_t chunk = B * H >= omp_get_max_threads() ? queryBlocks : 1;
#pragma omp parallel for schedule(dynamic, chunk) if (tasks > 1 && B * H * T * keyLen * D > kParallelMultiplyAdds)
  for (int64_t task = 0; task < tasks; task++) {
    const int64_t block = task % queryBlocks;
    const int64_t h = (task / queryBlocks) % H;
    const int64_t b = task / (queryBlocks * H);
    const BlockContext c{s,
                         qkv,
                         keyCache + (b * H + h) * s.capacity * D,
                         valueCache + (b * H + h) * s.capacity * D,
                         mask + b * keyLen,
                         positions + b * keyLen,
                         firstReal[b],
                         slopes[h],
                         scale,
                         b,
                         h,
                         call};
    const int64_t reversed = queryBlocks - 1 - block;
    attendBlock(c, reversed * kQueryBlock, std::min(T, (reversed + 1) * kQueryBlock), context);
  }
}

namespace {

// K or V of one (batch, head), row-major [n][d], transposed to [d][ldk] with zeros past n.
void transposeRows(const float* rows, int64_t n, int64_t d, int64_t ldk, float* out) {
  for (int64_t e0 = 0; e0 < d; e0 += 16) {
    const int64_t e1 = std::min(d, e0 + 16);
    for (int64_t j = 0; j < n; j++)
      for (int64_t e = e0; e < e1; e++) out[e * ldk + j] = rows[j * d + e];
  }
  for (int64_t e = 0; e < d; e++) std::fill(out + e * ldk + n, out + (e + 1) * ldk, 0.0f);
}

// acc[j] += Σ_g coef[g][j] · vec[g] for j < n: the rank-`count` updates of dK (coef = dS, vec = q)
// and dV (coef = P, vec = dContext) from a group of queries, one pass over acc.
void accumulateRows(const float* coef, int64_t ldc, const float* const* vec, int count, int64_t n, int64_t d,
                    float* acc) {
  for (int64_t j = 0; j < n; j++) {
    float* row = acc + j * d;
    for (int g = 0; g < count; g++) {
      const float c = coef[g * ldc + j];
      if (c == 0.0f) continue;
      const float* v = vec[g];
#pragma omp simd
      for (int64_t e = 0; e < d; e++) row[e] += c * v[e];
    }
  }
}

struct BackwardContext {
  const AttentionShape& s;
  const float* qkv;
  const float* dContext;
  float* dQkv;
  const float* keys;    // [queryLen, headDim] of this (batch, head)
  const float* values;  // idem
  const uint8_t* mask;  // [queryLen] of this batch row
  const float* positions;
  int64_t firstReal;
  float slope;
  float scale;
  int64_t b, h;
};

// Gradients of one (batch, head), all its queries. P is recomputed exactly as the forward does;
// dP = dC·Vᵀ, dS = P ∘ (dP − Σ P·dP) (zero where P is, so masked keys get no gradient), then
// dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dC. A query with no visible key attends uniformly
// over all keyLen keys: it adds dC / keyLen to every dV row and nothing to dQ or dK.
void attendBackwardHead(const BackwardContext& c) {
  const AttentionShape& s = c.s;
  const int64_t d = s.headDim, T = s.queryLen;
  const int64_t ldk = (T + kKeyTile - 1) / kKeyTile * kKeyTile;

  thread_local Scratch keysTScratch, valuesTScratch, probScratch, dsScratch, dkScratch, dvScratch, uniformScratch;
  float* keysT = keysTScratch.get<float>(d * ldk);
  float* valuesT = valuesTScratch.get<float>(d * ldk);
  float* probs = probScratch.get<float>(kQueryGroup * ldk);
  float* ds = dsScratch.get<float>(kQueryGroup * ldk);
  float* dK = dkScratch.get<float>(T * d);
  float* dV = dvScratch.get<float>(T * d);
  float* uniform = uniformScratch.get<float>(d);
  transposeRows(c.keys, T, d, ldk, keysT);
  transposeRows(c.values, T, d, ldk, valuesT);
  std::fill(dK, dK + T * d, 0.0f);
  std::fill(dV, dV + T * d, 0.0f);
  std::fill(uniform, uniform + d, 0.0f);
  bool anyUniform = false;

  auto slot = [&](int64_t i) { return ((c.b * T + i) * s.heads + c.h) * 3 * d; };
  auto contextRow = [&](int64_t i) { return c.dContext + ((c.b * T + i) * s.heads + c.h) * d; };
  for (int64_t g0 = 0; g0 < T; g0 += kQueryGroup) {
    const int count = static_cast<int>(std::min<int64_t>(kQueryGroup, T - g0));
    const int64_t lastKeys = g0 + count;  // keys seen by the group's last query
    const float* q[kQueryGroup];
    const float* dc[kQueryGroup];
    for (int g = 0; g < count; g++) {
      q[g] = c.qkv + slot(g0 + g);
      dc[g] = contextRow(g0 + g);
    }
    tileScores(q, count, keysT, ldk, d, lastKeys, probs);
    tileScores(dc, count, valuesT, ldk, d, lastKeys, ds);
    for (int g = 0; g < count; g++) {
      const int64_t i = g0 + g;
      float* p = probs + g * ldk;
      float* dsRow = ds + g * ldk;
      float* dq = c.dQkv + slot(i);
      if (c.firstReal > i) {
        const float w = 1.0f / static_cast<float>(T);
#pragma omp simd
        for (int64_t e = 0; e < d; e++) uniform[e] += w * dc[g][e];
        anyUniform = true;
        std::fill(p, p + lastKeys, 0.0f);
        std::fill(dsRow, dsRow + lastKeys, 0.0f);
        std::fill(dq, dq + d, 0.0f);
        continue;
      }
      const int64_t n = i + 1;
      const float inv = 1.0f / softmaxWeights(p, n, c.mask, c.positions, c.scale, c.slope);
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < n; j++) {
        p[j] *= inv;
        dot += p[j] * dsRow[j];
      }
#pragma omp simd
      for (int64_t j = 0; j < n; j++) dsRow[j] = c.scale * p[j] * (dsRow[j] - dot);
      std::fill(p + n, p + lastKeys, 0.0f);
      std::fill(dsRow + n, dsRow + lastKeys, 0.0f);
      weightedValues(dsRow, n, c.keys, d, 1.0f, dq);
    }
    accumulateRows(ds, ldk, q, count, lastKeys, d, dK);
    accumulateRows(probs, ldk, dc, count, lastKeys, d, dV);
  }
  for (int64_t j = 0; j < T; j++) {
    float* out = c.dQkv + slot(j);
    std::memcpy(out + d, dK + j * d, d * sizeof(float));
    float* dv = out + 2 * d;
    const float* acc = dV + j * d;
    if (anyUniform) {
#pragma omp simd
      for (int64_t e = 0; e < d; e++) dv[e] = acc[e] + uniform[e];
    } else {
      std::memcpy(dv, acc, d * sizeof(float));
    }
  }
}

}  // namespace

void attentionBackward(const AttentionShape& s, const float* qkv, float* keyCache, float* valueCache,
                       const uint8_t* mask, const float* slopes, const float* dContext, float* dQkv) {
  const int64_t B = s.batch, T = s.queryLen, H = s.heads, D = s.headDim;
  appendKeysValues(s, qkv, keyCache, valueCache);
  thread_local Scratch positionScratch, firstScratch;
  float* positions = positionScratch.get<float>(B * T);
  int64_t* firstReal = firstScratch.get<int64_t>(B);
  alibiPositions(mask, B, T, positions, firstReal);

  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  const int64_t tasks = B * H;
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && B * H * T * D > kParallelElements)
  for (int64_t task = 0; task < tasks; task++) {
    const int64_t h = task % H;
    const int64_t b = task / H;
    const BackwardContext c{s,
                            qkv,
                            dContext,
                            dQkv,
                            keyCache + (b * H + h) * s.capacity * D,
                            valueCache + (b * H + h) * s.capacity * D,
                            mask + b * T,
                            positions + b * T,
                            firstReal[b],
                            slopes[h],
                            scale,
                            b,
                            h};
    attendBackwardHead(c);
  }
}

}  // namespace tuneloop
