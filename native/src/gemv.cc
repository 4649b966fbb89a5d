// Linear for a handful of rows (greedy decoding), which is bound by streaming the weight from
// memory. The packed layouts keep each block of 64 output features contiguous over K, so one pass
// reads the weight sequentially, and rows are processed four at a time while a block sits in L2.
#include <algorithm>
#include <cstring>

#include "kernels.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace tuneloop {

// Zero where the kernel for the type is not compiled in (no AVX-512 / AVX512_BF16): oneDNN then
// handles every row count.
int64_t gemvMaxRows(DType dtype) {
#if defined(__AVX512BF16__)
  if (dtype == DType::BF16) return 32;
#endif
#if defined(__AVX512F__)
  if (dtype == DType::F32) return 8;
#endif
  (void)dtype;
  return 0;
}

#if defined(__AVX512F__)

namespace {

constexpr int64_t kBlock = 64;

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

void gemvForward(const void* x, int64_t rows, const PackedWeight& w, const float* bias, float* y) {
  const int64_t n = w.outFeatures;
  const int64_t ldx = w.paddedK;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t block = 0; block < blocks; block++) {
    const int64_t n0 = block * kBlock;
    const int64_t cols = std::min(kBlock, n - n0);
    const float* blockBias = bias ? bias + n0 : nullptr;
    const int64_t blockOffset = block * w.paddedK * kBlock;
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
      const int64_t group = std::min<int64_t>(4, rows - r0);
      if (w.gemv == GemvLayout::F32Ba16a64b) {
        f32Group(group, static_cast<const float*>(x) + r0 * ldx, ldx, static_cast<const float*>(w.data.get()) + blockOffset,
                 w.paddedK, blockBias, cols, y + r0 * n + n0, n);
      }
#if defined(__AVX512BF16__)
      if (w.gemv == GemvLayout::Bf16Ba16a64b2a) {
        bf16Group(group, static_cast<const uint16_t*>(x) + r0 * ldx, ldx,
                  static_cast<const uint16_t*>(w.data.get()) + blockOffset, w.paddedK / 2, blockBias, cols,
                  y + r0 * n + n0, n);
      }
#endif
    }
  }
}

#else

void gemvForward(const void*, int64_t, const PackedWeight&, const float*, float*) {}

#endif

}  // namespace tuneloop
