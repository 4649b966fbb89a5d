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

// ---- Backward ops and training pieces (see src/engine/gradients.ts for the contracts). ----

// c[m, n] = op(a) · op(b) in float32, where op(a) is a[m, k] (or a stored [k, m] when transposeA)
// and op(b) is b[k, n] (or b stored [n, k] when transposeB). m, n >= 1; k = 0 gives zeros.
void matmulForward(const float* a, const float* b, int64_t m, int64_t k, int64_t n, bool transposeA, bool transposeB,
                   float* c);

// dx[rows, in] = dy[rows, out] · W for the packed [out, in] weight: in float32 for a float32 weight;
// for a bf16 weight dy is rounded to bf16 and the products accumulate in float32 (as PyTorch's
// autocast). Works on the packed copy, a slab at a time.
void linearBackwardInput(const float* dy, int64_t rows, const PackedWeight& w, float* dx);

// out[c] = Σ_r dy[r, c], accumulated in double.
void sumRows(const float* dy, int64_t rows, int64_t cols, float* out);

// Backward of layernormForward; dGamma and dBeta are summed over rows (in double).
void layernormBackward(const float* x, const float* dy, int64_t rows, int64_t dim, const float* gamma, double eps,
                       float* dx, float* dGamma, float* dBeta);

// dx = dy · gelu'(x) for the tanh-form GELU.
void geluBackward(const float* x, const float* dy, int64_t n, float* dx);

// Backward of attentionForward with pastLen 0 (s.pastLen must be 0, s.capacity >= s.queryLen).
// Writes this call's keys and values into the caches (scratch) and dQkv in the fused
// [batch, queryLen, heads, 3, headDim] layout.
void attentionBackward(const AttentionShape& s, const float* qkv, float* keyCache, float* valueCache,
                       const uint8_t* mask, const float* slopes, const float* dContext, float* dQkv);

// Cross-entropy per row against targets (-100 = ignored; others must be in range). Writes
// dLogits = scale · (softmax − onehot) (zero rows for ignored targets), returns the summed loss
// and stores the number of counted rows in *counted.
double crossEntropy(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, float scale,
                    float* dLogits, int64_t* counted);

struct AdamWOptions {
  int64_t step;  // from 1
  double lr, beta1, beta2, eps, weightDecay;
};

// One torch.optim.AdamW step in place over n parameters.
void adamwStep(float* param, const float* grad, float* m, float* v, int64_t n, const AdamWOptions& o);

// Measured peak of the machine's vector units over all OpenMP threads, in GFLOP/s: float32 FMA
// (AVX-512 or AVX2; 0 without FMA), and bf16 dot products (vdpbf16ps; 0 without AVX512_BF16).
double fmaPeakGflops(double seconds);
double bf16DotPeakGflops(double seconds);

}  // namespace tuneloop
