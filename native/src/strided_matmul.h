// General oneDNN matmuls on plain strided operands, for the ops whose operands are not a prepacked
// weight: the backward matmuls, and NF4's dequantised slabs.
#pragma once

#include <cstdint>

#include "weight.h"

namespace tuneloop {

// c[m, n] (+)= a[m, k] · b[k, n] (+ bias[n]): a has strides (lda0, lda1), b (ldb0, ldb1), c rows of
// stride ldc. a and b are both float32 or both bf16 (`dtype`); c and bias are float32.
struct StridedMatmul {
  int64_t m, k, n;
  int64_t lda0, lda1, ldb0, ldb1, ldc;
  DType dtype;
  bool bias;        // a bias argument is given
  bool accumulate;  // add into c instead of overwriting it
};

// Runs the matmul; its oneDNN primitive is created once per shape, strides and thread count (creating
// one JIT-compiles kernels, far too slow to repeat per call).
void runStridedMatmul(const StridedMatmul& shape, const void* a, const void* b, const float* bias, float* c);

}  // namespace tuneloop
