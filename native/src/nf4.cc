// NF4 kernels (see nf4.h). Few rows: each thread dequantises one weight row at a time into an L1/L2
// resident buffer (AVX-512: vpermps looks the 16-entry code book up from a register) and takes its
// dot products with every input row. More rows: slabs of output rows are dequantised into a small
// scratch matrix in the compute type, and a oneDNN matmul multiplies each slab; the scratch is
// bounded (a few MB), so memory stays at the packed size.
#include "nf4.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "bf16.h"
#include "capabilities.h"
#include "strided_matmul.h"
#include "vecmath.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tuneloop {

namespace {

// bitsandbytes' NF4 code book (get_4bit_type('nf4')), indexed by the 4-bit code.
alignas(64) const float kNf4Code[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

AlignedBuffer copyBuffer(const void* src, size_t bytes) {
  AlignedBuffer b = allocAligned(bytes);
  if (bytes > 0) std::memcpy(b.get(), src, bytes);
  return b;
}

// Scalar path: any K (blocks may straddle rows, rows may start mid-byte).
void dequantizeRowScalar(const Nf4Weight& w, int64_t n, bool roundBf16, float* out) {
  const int64_t K = w.inFeatures;
  const auto* packed = static_cast<const uint8_t*>(w.packed.get());
  int64_t cachedBlock = -1;
  float scale = 0;
  for (int64_t k = 0; k < K; k++) {
    const int64_t i = n * K + k;
    const int64_t block = i / kNf4Block;
    if (block != cachedBlock) {
      scale = w.blockScale(block);
      cachedBlock = block;
    }
    const uint8_t byte = packed[i >> 1];
    const float v = kNf4Code[(i & 1) == 0 ? byte >> 4 : byte & 0x0f] * scale;
    out[k] = roundBf16 ? roundToBf16(v) : v;
  }
}

#if defined(__AVX512F__)
inline __m512 roundLanesToBf16(__m512 v) {
  // Round to nearest even on the bit pattern, as f32ToBf16 (the values are finite).
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), lsb);
  return _mm512_castsi512_ps(_mm512_and_si512(rounded, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

// K a multiple of 64: row n is K / 64 whole blocks of 32 bytes.
void dequantizeRowAvx512(const Nf4Weight& w, int64_t n, bool roundBf16, float* out) {
  const int64_t K = w.inFeatures;
  const auto* p = static_cast<const uint8_t*>(w.packed.get()) + n * K / 2;
  const int64_t block0 = n * K / kNf4Block;
  const __m512 table = _mm512_load_ps(kNf4Code);
  const __m512i low4 = _mm512_set1_epi32(0x0f);
  // Interleave high-nibble values (elements 0, 2, 4, ...) with low-nibble ones (1, 3, 5, ...).
  const __m512i firstHalf = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i secondHalf = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t b = 0; b < K / kNf4Block; b++) {
    const __m512 scale = _mm512_set1_ps(w.blockScale(block0 + b));
    for (int h = 0; h < 2; h++) {
      const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + b * 32 + h * 16)));
      const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
      const __m512 lo = _mm512_permutexvar_ps(_mm512_and_si512(v, low4), table);
      __m512 a = _mm512_mul_ps(_mm512_permutex2var_ps(hi, firstHalf, lo), scale);
      __m512 c = _mm512_mul_ps(_mm512_permutex2var_ps(hi, secondHalf, lo), scale);
      if (roundBf16) {
        a = roundLanesToBf16(a);
        c = roundLanesToBf16(c);
      }
      float* o = out + b * kNf4Block + h * 32;
      _mm512_storeu_ps(o, a);
      _mm512_storeu_ps(o + 16, c);
    }
  }
}

// y[r] = Σ_k wrow[k] · x[r, k] for R rows at once.
template <int R>
void dotRows(const float* wrow, const float* x, int64_t ldx, int64_t K, float* y, int64_t ldy) {
  __m512 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 wv = _mm512_loadu_ps(wrow + k);
    for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + r * ldx + k), acc[r]);
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    const __m512 wv = _mm512_maskz_loadu_ps(m, wrow + k);
    for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x + r * ldx + k), acc[r]);
  }
  for (int r = 0; r < R; r++) y[r * ldy] = _mm512_reduce_add_ps(acc[r]);
}
#elif defined(__AVX2__) && defined(__FMA__)
inline __m256 roundLanesToBf16(__m256 v) {
  // Round to nearest even on the bit pattern, as f32ToBf16 (the values are finite).
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), lsb);
  return _mm256_castsi256_ps(_mm256_and_si256(rounded, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
}

// K a multiple of 64: row n is K / 64 whole blocks of 32 bytes. The 16-entry code book is two
// 8-entry registers; vpermps reads the low 3 bits of a code and bit 3 picks the register.
void dequantizeRowAvx2(const Nf4Weight& w, int64_t n, bool roundBf16, float* out) {
  const int64_t K = w.inFeatures;
  const auto* p = static_cast<const uint8_t*>(w.packed.get()) + n * K / 2;
  const int64_t block0 = n * K / kNf4Block;
  const __m256 tableLow = _mm256_load_ps(kNf4Code), tableHigh = _mm256_load_ps(kNf4Code + 8);
  const __m256i low4 = _mm256_set1_epi32(0x0f);
  auto lookup = [&](__m256i codes) {
    const __m256 upper = _mm256_castsi256_ps(_mm256_slli_epi32(codes, 28));  // bit 3 -> sign bit
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(tableLow, codes), _mm256_permutevar8x32_ps(tableHigh, codes), upper);
  };
  for (int64_t b = 0; b < K / kNf4Block; b++) {
    const __m256 scale = _mm256_set1_ps(w.blockScale(block0 + b));
    for (int q = 0; q < 4; q++) {
      // 8 bytes: 16 values, the high nibble of each byte first.
      const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + b * 32 + q * 8)));
      const __m256 hi = lookup(_mm256_srli_epi32(v, 4));
      const __m256 lo = lookup(_mm256_and_si256(v, low4));
      // unpack interleaves within 128-bit halves: (h0 l0 h1 l1 | h4 l4 h5 l5) and (h2 l2 h3 l3 | h6 l6 h7 l7).
      const __m256 first = _mm256_unpacklo_ps(hi, lo), second = _mm256_unpackhi_ps(hi, lo);
      __m256 a = _mm256_mul_ps(_mm256_permute2f128_ps(first, second, 0x20), scale);
      __m256 c = _mm256_mul_ps(_mm256_permute2f128_ps(first, second, 0x31), scale);
      if (roundBf16) {
        a = roundLanesToBf16(a);
        c = roundLanesToBf16(c);
      }
      float* o = out + b * kNf4Block + q * 16;
      _mm256_storeu_ps(o, a);
      _mm256_storeu_ps(o + 8, c);
    }
  }
}

// y[r] = Σ_k wrow[k] · x[r, k] for R rows at once.
template <int R>
void dotRows(const float* wrow, const float* x, int64_t ldx, int64_t K, float* y, int64_t ldy) {
  __m256 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 wv = _mm256_loadu_ps(wrow + k);
    for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * ldx + k), acc[r]);
  }
  if (k < K) {
    const __m256i m = tailMask256(K - k);
    const __m256 wv = _mm256_maskload_ps(wrow + k, m);
    for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(x + r * ldx + k, m), acc[r]);
  }
  for (int r = 0; r < R; r++) {
    const __m128 half = _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1));
    const __m128 quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
    y[r * ldy] = _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)));
  }
}
#endif

void dotGroup(int64_t rows, const float* wrow, const float* x, int64_t K, float* y, int64_t ldy) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) dotRows<4>(wrow, x + r * K, K, K, y + r * ldy, ldy);
  for (; r < rows; r++) dotRows<1>(wrow, x + r * K, K, K, y + r * ldy, ldy);
#else
  for (int64_t r = 0; r < rows; r++) {
    float sum = 0;
    for (int64_t k = 0; k < K; k++) sum += wrow[k] * x[r * K + k];
    y[r * ldy] = sum;
  }
#endif
}

// Output rows per slab: whole 64-row groups, about 2 MB of compute-type values.
int64_t slabRows(const Nf4Weight& w, size_t elementBytes) {
  const int64_t target = std::max<int64_t>(1, (int64_t{2} << 20) / (w.inFeatures * static_cast<int64_t>(elementBytes)));
  const int64_t rounded = std::max<int64_t>(kNf4Block, target / kNf4Block * kNf4Block);
  return std::min(rounded, w.outFeatures);
}

// Dequantises rows n0 .. n0 + nc of W into dst ([nc, K], float32 or bf16 bits; float32 values are
// rounded to bf16 when roundBf16).
void dequantizeSlab(const Nf4Weight& w, int64_t n0, int64_t nc, DType type, bool roundBf16, void* dst) {
  const int64_t K = w.inFeatures;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < nc; j++) {
    if (type == DType::F32) {
      nf4DequantizeRow(w, n0 + j, roundBf16, static_cast<float*>(dst) + j * K);
    } else {
      thread_local Scratch row;
      float* r = row.get<float>(K);
      nf4DequantizeRow(w, n0 + j, false, r);
      f32ToBf16Array(r, static_cast<uint16_t*>(dst) + j * K, K);
    }
  }
}

}  // namespace

float Nf4Weight::blockScale(int64_t b) const {
  if (!doubleQuant) return static_cast<const float*>(absmax.get())[b];
  float product = code[static_cast<const uint8_t*>(absmaxCodes.get())[b]] *
                  static_cast<const float*>(absmax2.get())[b / kNf4DoubleQuantBlock];
#if defined(__GNUC__)
  // Keeps the multiply and the add separate roundings (no FMA contraction), as PyTorch computes them.
  __asm__ volatile("" : "+x"(product));
#endif
  return product + offset;
}

Nf4Weight* prepareNf4Weight(const uint8_t* packed, int64_t out, int64_t in, DType dtype, const float* absmax,
                            const uint8_t* absmaxCodes, const float* code, const float* absmax2, float offset) {
  auto w = std::make_unique<Nf4Weight>();
  w->outFeatures = out;
  w->inFeatures = in;
  w->dtype = dtype;
  const int64_t blocks = w->blocks();
  const size_t packedBytes = static_cast<size_t>((out * in + 1) / 2);
  w->packed = copyBuffer(packed, packedBytes);
  w->bytes = packedBytes;
  if (absmaxCodes == nullptr) {
    w->absmax = copyBuffer(absmax, static_cast<size_t>(blocks) * sizeof(float));
    w->bytes += static_cast<size_t>(blocks) * sizeof(float);
  } else {
    const int64_t blocks2 = (blocks + kNf4DoubleQuantBlock - 1) / kNf4DoubleQuantBlock;
    w->doubleQuant = true;
    w->absmaxCodes = copyBuffer(absmaxCodes, static_cast<size_t>(blocks));
    w->absmax2 = copyBuffer(absmax2, static_cast<size_t>(blocks2) * sizeof(float));
    std::memcpy(w->code, code, sizeof(w->code));
    w->offset = offset;
    w->bytes += static_cast<size_t>(blocks) + static_cast<size_t>(blocks2) * sizeof(float) + sizeof(w->code) + sizeof(float);
  }
  return w.release();
}

void nf4DequantizeRow(const Nf4Weight& w, int64_t n, bool roundBf16, float* out) {
#if defined(__AVX512F__)
  if (w.inFeatures % kNf4Block == 0) {
    dequantizeRowAvx512(w, n, roundBf16, out);
    return;
  }
#elif defined(__AVX2__) && defined(__FMA__)
  if (w.inFeatures % kNf4Block == 0) {
    dequantizeRowAvx2(w, n, roundBf16, out);
    return;
  }
#endif
  dequantizeRowScalar(w, n, roundBf16, out);
}

void nf4LinearForward(const float* x, int64_t rows, const Nf4Weight& w, const float* bias, float* y) {
  if (rows == 0) return;
  const int64_t K = w.inFeatures, N = w.outFeatures;
  const bool bf16 = w.dtype == DType::BF16;
  if (rows <= kNf4GemvMaxRows) {
    // bf16 compute: x rounded to bf16 (kept as float32; the products are then exact in float32).
    thread_local Scratch roundedX;
    const float* xs = x;
    if (bf16) {
      float* xr = roundedX.get<float>(rows * K);
      roundToBf16Array(x, xr, rows * K);
      xs = xr;
    }
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      thread_local Scratch rowScratch;
      float* wrow = rowScratch.get<float>(K);
      nf4DequantizeRow(w, n, bf16, wrow);
      dotGroup(rows, wrow, xs, K, y + n, N);
      if (bias) {
        for (int64_t r = 0; r < rows; r++) y[r * N + n] += bias[n];
      }
    }
    return;
  }
  // Slabs: y[:, n0:n0+nc] = x · slabᵀ (+ bias[n0:n0+nc]). bf16 compute multiplies bf16 slabs where
  // oneDNN has a bf16 matmul, else float32 slabs of bf16-rounded values (the same products).
  thread_local Scratch inputScratch;
  thread_local Scratch slabScratch;
  const void* a = x;
  const DType type = bf16 && onednnBf16Matmul() ? DType::BF16 : DType::F32;
  if (bf16) {
    const int64_t chunk = 1 << 14;
    uint16_t* xb = type == DType::BF16 ? inputScratch.get<uint16_t>(rows * K) : nullptr;
    float* xr = type == DType::F32 ? inputScratch.get<float>(rows * K) : nullptr;
#pragma omp parallel for schedule(static)
    for (int64_t start = 0; start < rows * K; start += chunk) {
      const int64_t n = std::min(chunk, rows * K - start);
      if (xb) {
        f32ToBf16Array(x + start, xb + start, n);
      } else {
        roundToBf16Array(x + start, xr + start, n);
      }
    }
    a = xb ? static_cast<const void*>(xb) : xr;
  }
  const int64_t slab = slabRows(w, dtypeSize(type));
  void* slabData = slabScratch.get<uint8_t>(static_cast<size_t>(slab * K) * dtypeSize(type));
  for (int64_t n0 = 0; n0 < N; n0 += slab) {
    const int64_t nc = std::min(slab, N - n0);
    dequantizeSlab(w, n0, nc, type, bf16, slabData);
    // b = the slab [nc, K] viewed as K x nc (strides 1, K).
    runStridedMatmul({rows, K, nc, K, 1, 1, K, N, type, bias != nullptr, false}, a, slabData, bias ? bias + n0 : nullptr, y + n0);
  }
}

// dx = dy · W, a slab of dequantised rows at a time. bf16 compute rounds dy to bf16 and multiplies
// bf16 slabs, as the dense bf16 backward (matmul.cc) and PyTorch's autocast do (or, without a oneDNN
// bf16 matmul, float32 slabs of the same bf16-rounded values).
void nf4LinearBackwardInput(const float* dy, int64_t rows, const Nf4Weight& w, float* dx) {
  if (rows == 0) return;
  const int64_t K = w.inFeatures, N = w.outFeatures;
  const bool bf16 = w.dtype == DType::BF16;
  const DType type = bf16 && onednnBf16Matmul() ? DType::BF16 : DType::F32;
  thread_local Scratch slabScratch;
  thread_local Scratch dyScratch;
  const int64_t slab = slabRows(w, dtypeSize(type));
  void* slabData = slabScratch.get<uint8_t>(static_cast<size_t>(slab * K) * dtypeSize(type));
  void* dyRounded = bf16 ? dyScratch.get<uint8_t>(static_cast<size_t>(rows * slab) * dtypeSize(type)) : nullptr;
  for (int64_t n0 = 0; n0 < N; n0 += slab) {
    const int64_t nc = std::min(slab, N - n0);
    dequantizeSlab(w, n0, nc, type, bf16, slabData);
    // dx (+)= dy[:, n0:n0+nc] · slab, the slab [nc, K] row-major.
    if (bf16) {
#pragma omp parallel for schedule(static) if (rows * nc > kParallelElements)
      for (int64_t r = 0; r < rows; r++) {
        if (type == DType::BF16) {
          f32ToBf16Array(dy + r * N + n0, static_cast<uint16_t*>(dyRounded) + r * nc, nc);
        } else {
          roundToBf16Array(dy + r * N + n0, static_cast<float*>(dyRounded) + r * nc, nc);
        }
      }
      runStridedMatmul({rows, nc, K, nc, 1, K, 1, K, type, false, n0 > 0}, dyRounded, slabData, nullptr, dx);
    } else {
      runStridedMatmul({rows, nc, K, N, 1, K, 1, K, DType::F32, false, n0 > 0}, dy + n0, slabData, nullptr, dx);
    }
  }
}

void nf4EmbeddingForward(const Nf4Weight& w, const int32_t* ids, int64_t count, float* out) {
  const int64_t K = w.inFeatures;
#pragma omp parallel for schedule(static) if (count * K > kParallelElements)
  for (int64_t i = 0; i < count; i++) nf4DequantizeRow(w, ids[i], w.dtype == DType::BF16, out + i * K);
}

}  // namespace tuneloop
