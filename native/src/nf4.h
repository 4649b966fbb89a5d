// NF4-quantised weights (QLoRA): a [out, in] matrix kept as bitsandbytes packs it — 4-bit codes of
// the NF4 code book, two per byte (first element in the high nibble), over the flattened matrix in
// blocks of 64 values with one scale (absmax) per block, the scales optionally double-quantised to 8
// bits. Kernels dequantise on the fly (value = code · absmax in float32, rounded to bf16 for bf16
// compute), so only the packed form (about 4.5 bits per value) is ever resident.
#pragma once

#include <cstdint>

#include "common.h"

namespace tuneloop {

constexpr int64_t kNf4Block = 64;
constexpr int64_t kNf4DoubleQuantBlock = 256;

struct Nf4Weight {
  int64_t outFeatures = 0;   // N
  int64_t inFeatures = 0;    // K
  DType dtype = DType::F32;  // compute type: F32 or BF16
  AlignedBuffer packed;      // ceil(N·K / 2) bytes
  bool doubleQuant = false;
  AlignedBuffer absmax;      // float[blocks] when !doubleQuant
  AlignedBuffer absmaxCodes; // uint8[blocks] when doubleQuant: indices into `code`
  AlignedBuffer absmax2;     // float[ceil(blocks / 256)] when doubleQuant
  float code[256] = {};      // the dynamic map when doubleQuant
  float offset = 0;
  size_t bytes = 0;

  int64_t blocks() const { return (outFeatures * inFeatures + kNf4Block - 1) / kNf4Block; }
  // Scale of 64-block b: absmax[b], or code[q[b]] · absmax2[b / 256] + offset (float32, unfused).
  float blockScale(int64_t b) const;
};

// Copies the packed codes and scales. absmax is used when absmaxCodes is null; otherwise code (256
// floats), absmax2 and offset describe the double-quantised scales.
Nf4Weight* prepareNf4Weight(const uint8_t* packed, int64_t out, int64_t in, DType dtype, const float* absmax,
                            const uint8_t* absmaxCodes, const float* code, const float* absmax2, float offset);

// Most rows that take the streaming (GEMV-style) kernel; more go through slabs and oneDNN.
constexpr int64_t kNf4GemvMaxRows = 32;

// y[rows, N] = x[rows, K] · Wᵀ + bias (bias may be null). bf16 compute rounds x and W to bf16.
void nf4LinearForward(const float* x, int64_t rows, const Nf4Weight& w, const float* bias, float* y);

// dx[rows, K] = dy[rows, N] · W; bf16 compute rounds dy and W to bf16 and accumulates in float32.
void nf4LinearBackwardInput(const float* dy, int64_t rows, const Nf4Weight& w, float* dx);

// out[i, :] = row ids[i] of W as float32 (bf16-rounded for bf16 compute). Ids must be in range.
void nf4EmbeddingForward(const Nf4Weight& w, const int32_t* ids, int64_t count, float* out);

// Row n of W, dequantised to float32 (bf16-rounded when roundBf16), into out[0 .. K).
void nf4DequantizeRow(const Nf4Weight& w, int64_t n, bool roundBf16, float* out);

}  // namespace tuneloop
