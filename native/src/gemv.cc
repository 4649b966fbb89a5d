// Linear for a handful of rows (greedy decoding), which is bound by streaming the weight from
// memory. The packed layouts keep each block of 64 output features contiguous over K, so one pass
// reads the weight sequentially, and rows are processed four at a time while a block sits in L2.
#include <algorithm>
#include <cstring>

#include "bf16.h"
#include "kernels.h"
#include "vecmath.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

// The bf16 kernel: vdpbf16ps with AVX512_BF16, else AVX2 FMAs on weights widened by a shift.
#if !defined(__AVX512BF16__) && defined(__AVX2__) && defined(__FMA__)
#define TUNELOOP_GEMV_BF16_AVX2 1
#endif

namespace tuneloop {

// Zero where the kernel for the type is not compiled in: oneDNN (or its bf16-as-f32 slabs) then
// handles every row count. Without AVX-512, float32 weights are packed plain (oneDNN's AVX2 choice)
// and have no kernel here.
int64_t gemvMaxRows(DType dtype) {
#if defined(__AVX512BF16__)
  if (dtype == DType::BF16) return 32;
#elif defined(TUNELOOP_GEMV_BF16_AVX2)
  // Measured on Zen 3 (one thread, 1024 inputs): 40-60 GFLOP/s at 8-32 rows, while
  // the widened slabs through oneDNN reached 17-30 there (a busy machine: rough numbers).
  if (dtype == DType::BF16) return 32;
#endif
#if defined(__AVX512F__)
  if (dtype == DType::F32) return 8;
#endif
  (void)dtype;
  return 0;
}

namespace {

constexpr int64_t kBlock = 64;

}  // namespace

#if defined(__AVX512F__)

namespace {

// Adds the bias and stores the `cols` (<= 64) valid outputs of one block for R rows.
template <int R>
inline void storeRows(__m512 (&acc)[R][4], const float* bias, int64_t cols, float* y, int64_t ldy) {
  for (int i = 0; i < 4; i++) {
    int64_t valid = std::clamp<int64_t>(cols - 16 * i, 0, 16);
    if (valid == 0) break;
    __mmask16 m = static_cast<__mmask16>(valid == 16 ? 0xffff : (1u << valid) - 1);
    __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + 16 * i) : _mm512_setzero_ps();
    for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(y + r * ldy + 16 * i, m, _mm512_add_ps(acc[r][i], b));
  }
}

// Block layout [K][64] floats.
template <int R>
void f32Rows(const float* x, int64_t ldx, const float* wb, int64_t k, const float* bias, int64_t cols, float* y,
             int64_t ldy) {
  __m512 acc[R][4];
  for (int r = 0; r < R; r++)
    for (int i = 0; i < 4; i++) acc[r][i] = _mm512_setzero_ps();
  if (R == 1) {
    // Two accumulator sets halve the dependency chains, so loads can run further ahead.
    __m512 odd[4];
    for (int i = 0; i < 4; i++) odd[i] = _mm512_setzero_ps();
    // k = paddedK is a multiple of 16 in this layout, so it splits evenly.
    for (int64_t kk = 0; kk < k; kk += 2) {
      const float* wp = wb + kk * kBlock;
      const __m512 x0 = _mm512_set1_ps(x[kk]), x1 = _mm512_set1_ps(x[kk + 1]);
      for (int i = 0; i < 4; i++) {
        acc[0][i] = _mm512_fmadd_ps(_mm512_load_ps(wp + 16 * i), x0, acc[0][i]);
        odd[i] = _mm512_fmadd_ps(_mm512_load_ps(wp + kBlock + 16 * i), x1, odd[i]);
      }
    }
    for (int i = 0; i < 4; i++) acc[0][i] = _mm512_add_ps(acc[0][i], odd[i]);
    storeRows<R>(acc, bias, cols, y, ldy);
    return;
  }
  for (int64_t kk = 0; kk < k; kk++) {
    const float* wp = wb + kk * kBlock;
    __m512 w0 = _mm512_load_ps(wp), w1 = _mm512_load_ps(wp + 16), w2 = _mm512_load_ps(wp + 32),
           w3 = _mm512_load_ps(wp + 48);
    for (int r = 0; r < R; r++) {
      __m512 xv = _mm512_set1_ps(x[r * ldx + kk]);
      acc[r][0] = _mm512_fmadd_ps(w0, xv, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(w1, xv, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(w2, xv, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(w3, xv, acc[r][3]);
    }
  }
  storeRows<R>(acc, bias, cols, y, ldy);
}

void f32Group(int64_t rows, const float* x, int64_t ldx, const float* wb, int64_t k, const float* bias, int64_t cols,
              float* y, int64_t ldy) {
  switch (rows) {
    case 1: return f32Rows<1>(x, ldx, wb, k, bias, cols, y, ldy);
    case 2: return f32Rows<2>(x, ldx, wb, k, bias, cols, y, ldy);
    case 3: return f32Rows<3>(x, ldx, wb, k, bias, cols, y, ldy);
    default: return f32Rows<4>(x, ldx, wb, k, bias, cols, y, ldy);
  }
}

#if defined(__AVX512BF16__)
// Block layout [K/2][64][2] bf16: each vdpbf16ps multiplies 16 outputs' K-pairs by one x pair.
template <int R>
void bf16Rows(const uint16_t* x, int64_t ldx, const uint16_t* wb, int64_t pairs, const float* bias, int64_t cols,
              float* y, int64_t ldy) {
  __m512 acc[R][4];
  for (int r = 0; r < R; r++)
    for (int i = 0; i < 4; i++) acc[r][i] = _mm512_setzero_ps();
  if (R == 1) {
    // Two accumulator sets halve the dependency chains, so loads can run further ahead.
    __m512 odd[4];
    for (int i = 0; i < 4; i++) odd[i] = _mm512_setzero_ps();
    // pairs = paddedK / 2 is a multiple of 16 in this layout, so it splits evenly.
    for (int64_t p = 0; p < pairs; p += 2) {
      const uint16_t* wp = wb + p * 2 * kBlock;
      int32_t xp[2];
      std::memcpy(xp, x + 2 * p, 8);
      const __m512bh x0 = (__m512bh)_mm512_set1_epi32(xp[0]), x1 = (__m512bh)_mm512_set1_epi32(xp[1]);
      for (int i = 0; i < 4; i++) {
        acc[0][i] = _mm512_dpbf16_ps(acc[0][i], (__m512bh)_mm512_load_si512(wp + 32 * i), x0);
        odd[i] = _mm512_dpbf16_ps(odd[i], (__m512bh)_mm512_load_si512(wp + 2 * kBlock + 32 * i), x1);
      }
    }
    for (int i = 0; i < 4; i++) acc[0][i] = _mm512_add_ps(acc[0][i], odd[i]);
    storeRows<R>(acc, bias, cols, y, ldy);
    return;
  }
  for (int64_t p = 0; p < pairs; p++) {
    const uint16_t* wp = wb + p * 2 * kBlock;
    __m512bh w0 = (__m512bh)_mm512_load_si512(wp), w1 = (__m512bh)_mm512_load_si512(wp + 32),
             w2 = (__m512bh)_mm512_load_si512(wp + 64), w3 = (__m512bh)_mm512_load_si512(wp + 96);
    for (int r = 0; r < R; r++) {
      int32_t pair;
      std::memcpy(&pair, x + r * ldx + 2 * p, 4);
      __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], w0, xv);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], w1, xv);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], w2, xv);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], w3, xv);
    }
  }
  storeRows<R>(acc, bias, cols, y, ldy);
}

void bf16Group(int64_t rows, const uint16_t* x, int64_t ldx, const uint16_t* wb, int64_t pairs, const float* bias,
               int64_t cols, float* y, int64_t ldy) {
  switch (rows) {
    case 1: return bf16Rows<1>(x, ldx, wb, pairs, bias, cols, y, ldy);
    case 2: return bf16Rows<2>(x, ldx, wb, pairs, bias, cols, y, ldy);
    case 3: return bf16Rows<3>(x, ldx, wb, pairs, bias, cols, y, ldy);
    default: return bf16Rows<4>(x, ldx, wb, pairs, bias, cols, y, ldy);
  }
}
#endif

}  // namespace

#endif  // __AVX512F__

#if defined(TUNELOOP_GEMV_BF16_AVX2)

namespace {

// Block layout [K/2][64][2] bf16. A 256-bit load holds 8 columns' (even k, odd k) pairs; the
// even values are the low halves (widened by a 16-bit shift), the odd ones the high halves (by
// masking the low bits), and both are FMAs into the 8 columns' float32 accumulators. Exact bf16
// products, float32 sums, as the TypeScript reference. R rows take C = 8 / R column groups per
// pass over the block (8 accumulators in all), so more rows make more passes over the L2-resident
// block. x is already widened to float32, so each broadcast is a single load.
template <int R>
void bf16WidenRows(const float* x, int64_t ldx, const uint16_t* wb, int64_t pairs, const float* bias,
                   int64_t cols, float* y, int64_t ldy) {
  constexpr int C = R == 1 ? 8 : R == 2 ? 4 : 2;
  const __m256i highHalf = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
  for (int g0 = 0; g0 < 8 && g0 * 8 < cols; g0 += C) {
    __m256 acc[R][C];
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    for (int64_t p = 0; p < pairs; p++) {
      const uint16_t* wp = wb + p * 2 * kBlock + g0 * 16;
      __m256 even[C], odd[C];
      for (int c = 0; c < C; c++) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + 16 * c));
        even[c] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
        odd[c] = _mm256_castsi256_ps(_mm256_and_si256(v, highHalf));
      }
      for (int r = 0; r < R; r++) {
        const __m256 x0 = _mm256_broadcast_ss(x + r * ldx + 2 * p);
        const __m256 x1 = _mm256_broadcast_ss(x + r * ldx + 2 * p + 1);
        for (int c = 0; c < C; c++) {
          acc[r][c] = _mm256_fmadd_ps(even[c], x0, acc[r][c]);
          acc[r][c] = _mm256_fmadd_ps(odd[c], x1, acc[r][c]);
        }
      }
    }
    for (int c = 0; c < C; c++) {
      const int64_t first = (g0 + c) * 8;
      const int64_t valid = std::clamp<int64_t>(cols - first, 0, 8);
      if (valid == 0) break;
      const __m256i m = valid == 8 ? _mm256_set1_epi32(-1) : tailMask256(valid);
      const __m256 b = bias ? _mm256_maskload_ps(bias + first, m) : _mm256_setzero_ps();
      for (int r = 0; r < R; r++) _mm256_maskstore_ps(y + r * ldy + first, m, _mm256_add_ps(acc[r][c], b));
    }
  }
}

void bf16WidenGroup(int64_t rows, const float* x, int64_t ldx, const uint16_t* wb, int64_t pairs, const float* bias,
                    int64_t cols, float* y, int64_t ldy) {
  switch (rows) {
    case 1: return bf16WidenRows<1>(x, ldx, wb, pairs, bias, cols, y, ldy);
    case 2: return bf16WidenRows<2>(x, ldx, wb, pairs, bias, cols, y, ldy);
    case 3: return bf16WidenRows<3>(x, ldx, wb, pairs, bias, cols, y, ldy);
    default: return bf16WidenRows<4>(x, ldx, wb, pairs, bias, cols, y, ldy);
  }
}

}  // namespace

#endif  // TUNELOOP_GEMV_BF16_AVX2

#if defined(__AVX512F__) || defined(TUNELOOP_GEMV_BF16_AVX2)

void gemvForward(const void* x, int64_t rows, const PackedWeight& w, const float* bias, float* y) {
  const int64_t n = w.outFeatures;
  const int64_t ldx = w.paddedK;
#if defined(TUNELOOP_GEMV_BF16_AVX2)
  // The bf16 values of x, widened to float32 once rather than at every broadcast.
  thread_local Scratch widenedX;
  float* xf = nullptr;
  if (w.gemv == GemvLayout::Bf16Ba16a64b2a) {
    xf = widenedX.get<float>(rows * ldx);
    const auto* xb = static_cast<const uint16_t*>(x);
    for (int64_t i = 0; i < rows * ldx; i++) xf[i] = bf16ToF32(xb[i]);
  }
#endif
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t block = 0; block < blocks; block++) {
    const int64_t n0 = block * kBlock;
    const int64_t cols = std::min(kBlock, n - n0);
    const float* blockBias = bias ? bias + n0 : nullptr;
    const int64_t blockOffset = block * w.paddedK * kBlock;
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
      const int64_t group = std::min<int64_t>(4, rows - r0);
#if defined(__AVX512F__)
      if (w.gemv == GemvLayout::F32Ba16a64b) {
        f32Group(group, static_cast<const float*>(x) + r0 * ldx, ldx, static_cast<const float*>(w.data.get()) + blockOffset,
                 w.paddedK, blockBias, cols, y + r0 * n + n0, n);
      }
#endif
      if (w.gemv == GemvLayout::Bf16Ba16a64b2a) {
#if defined(__AVX512BF16__)
        bf16Group(group, static_cast<const uint16_t*>(x) + r0 * ldx, ldx,
                  static_cast<const uint16_t*>(w.data.get()) + blockOffset, w.paddedK / 2, blockBias, cols,
                  y + r0 * n + n0, n);
#elif defined(TUNELOOP_GEMV_BF16_AVX2)
        bf16WidenGroup(group, xf + r0 * ldx, ldx,
                       static_cast<const uint16_t*>(w.data.get()) + blockOffset, w.paddedK / 2, blockBias, cols,
                       y + r0 * n + n0, n);
#endif
      }
    }
  }
}

#else

// Not called: gemvMaxRows is 0 for every type without vector kernels.
void gemvForward(const void*, int64_t, const PackedWeight&, const float*, float*) {}

#endif

}  // namespace tuneloop
