// Forward kernels of the tuneloop engine, free of N-API so they can be called from any C++ code.
// Each op is named `<op>Forward`; its gradient kernel will sit beside it as `<op>Backward`.
// All activations are row-major float32.
#pragma once

#include <cstdint>

#include "weight.h"

namespace tuneloop {

// y[rows, N] = x[rows, K] · Wᵀ + bias (bias may be null).
void linearForward(const float* x, int64_t rows, const PackedWeight& w, const float* bias, float* y);

// Small-batch linear on the packed layouts (w.gemv != None), for at most gemvMaxRows(w.dtype)
// rows: up to there it is faster than oneDNN's matmul (measured at BLOOM-560m shapes). `x` holds
// `rows` rows of w.paddedK values in the compute type (float or bf16 bits), zero past K.
int64_t gemvMaxRows(DType dtype);
void gemvForward(const void* x, int64_t rows, const PackedWeight& w, const float* bias, float* y);

// out[i, :] = row ids[i] of the [N, K] table, as float32. Ids must be in range.
void embeddingForward(const PackedWeight& table, const int32_t* ids, int64_t count, float* out);

void layernormForward(const float* x, int64_t rows, int64_t dim, const float* gamma, const float* beta, double eps,
                      float* out);

void geluForward(const float* x, int64_t n, float* out);

void addInPlace(float* dst, const float* src, int64_t n);

struct AttentionShape {
  int64_t batch, queryLen, heads, headDim, capacity, pastLen;
};

// BLOOM self-attention with ALiBi and padding mask; see src/engine/backend.ts for the contract.
void attentionForward(const AttentionShape& s, const float* qkv, float* keyCache, float* valueCache,
                      const uint8_t* mask, const float* slopes, float* context);

// Per row: logits[target] - logsumexp(row), and whether target is the row's first argmax.
void tokenLogProbsForward(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, float* logProbs,
                          uint8_t* isGreedy);

// Measured peak of the machine's vector units over all OpenMP threads, in GFLOP/s: float32 FMA
// (AVX-512 or AVX2; 0 without FMA), and bf16 dot products (vdpbf16ps; 0 without AVX512_BF16).
double fmaPeakGflops(double seconds);
double bf16DotPeakGflops(double seconds);

}  // namespace tuneloop
