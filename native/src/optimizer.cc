// AdamW, as torch.optim.AdamW (torch 1.13, single-tensor path):
//   p *= 1 − lr·wd;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//   denom = √v / √(1−β2^step) + eps;  p −= (lr / (1−β1^step)) · m / denom.
// The step scalars are computed in double and applied in float32, as PyTorch does for float tensors.
#include <cmath>

#include "kernels.h"

namespace tuneloop {

void adamwStep(float* param, const float* grad, float* m, float* v, int64_t n, const AdamWOptions& o) {
  const double step = static_cast<double>(o.step);
  const float decay = static_cast<float>(1.0 - o.lr * o.weightDecay);
  const float b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  const float oneMinusB1 = static_cast<float>(1.0 - o.beta1), oneMinusB2 = static_cast<float>(1.0 - o.beta2);
  const float stepSize = static_cast<float>(o.lr / (1.0 - std::pow(o.beta1, step)));
  const float bias2Sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(o.beta2, step)));
  const float eps = static_cast<float>(o.eps);
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; i++) {
    const float g = grad[i];
    const float p = param[i] * decay;
    const float mi = b1 * m[i] + oneMinusB1 * g;
    const float vi = b2 * v[i] + oneMinusB2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - stepSize * (mi / (std::sqrt(vi) / bias2Sqrt + eps));
  }
}

}  // namespace tuneloop
