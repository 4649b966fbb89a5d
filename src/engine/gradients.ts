import type { AttentionArgs, Weight } from './backend.js';

/**
 * Backward ops, the gradient beside each forward op of `Backend` (llm.c style), plus the few extra
 * pieces training needs: a general small matmul for adapter weights, the loss, and the optimiser step.
 * A backend that trains implements `Backend & GradientOps`.
 *
 * Conventions as in backend.ts: float32 row-major activations, `[out, in]` weights, fresh outputs.
 * Gradients are with respect to float32 values even when the forward ran at bf16 (the frozen weights
 * then enter as bf16, as in the forward).
 */
export interface GradientOps {
  /**
   * c[m, n] = op(a) · op(b), float32, where op(a) is a[m, k] or, with transposeA, a stored as [k, m];
   * likewise op(b) is b[k, n] or, with transposeB, b stored as [n, k]. For trainable matrices (LoRA A
   * and B) and weight gradients (dW = dyᵀ · x).
   */
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options?: { transposeA?: boolean; transposeB?: boolean }): Float32Array;

  /** For y = x · Wᵀ + b with a frozen prepared weight: dx[rows, in] = dy[rows, out] · W. */
  linearBackwardInput(dy: Float32Array, rows: number, weight: Weight): Float32Array;

  /** Sums `dy[rows, cols]` over rows: the gradient of a bias. */
  sumRows(dy: Float32Array, rows: number, cols: number): Float32Array;

  /**
   * Backward of layerNorm(x, gamma, beta, eps) over the last dimension gamma.length. Recomputes the
   * row statistics from x. dGamma and dBeta are summed over rows.
   */
  layerNormBackward(x: Float32Array, gamma: Float32Array, dy: Float32Array, eps: number): { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array };

  /** Backward of the tanh-form GELU: dx = dy · gelu'(x). */
  geluBackward(x: Float32Array, dy: Float32Array): Float32Array;

  /**
   * Backward of `attention` without a KV cache (pastLen 0, capacity = queryLen; the caches are
   * scratch and are overwritten). Recomputes the attention probabilities from qkv and the mask, with
   * the same masking rules (a query with no visible key attends uniformly over every key, so its
   * scores get no gradient). Returns dQkv in the fused `[batch, queryLen, heads, 3, headDim]` layout.
   */
  attentionBackward(args: AttentionArgs, dContext: Float32Array): Float32Array;

  /**
   * Cross-entropy of `logits[rows, vocab]` against `targets[rows]`, where a target of -100 is ignored.
   * Returns the summed loss over counted rows and dLogits = scale · (softmax − onehot) (zero for
   * ignored rows); the caller passes scale = 1 / (counted rows in the whole batch) for a mean loss.
   * `overwriteLogits` writes dLogits into the logits array itself (returned as dLogits), saving a
   * `[rows, vocab]` buffer: 1 GB a chunk of 1024 rows at BLOOM's vocabulary.
   */
  crossEntropy(logits: Float32Array, vocab: number, targets: Int32Array, scale: number, options?: { overwriteLogits?: boolean }): { lossSum: number; counted: number; dLogits: Float32Array };

  /**
   * One AdamW step in place, as torch.optim.AdamW: p −= lr·wd·p; m = β1·m + (1−β1)·g;
   * v = β2·v + (1−β2)·g²; p −= lr · (m / (1−β1^step)) / (√(v / (1−β2^step)) + eps). `step` counts from 1.
   */
  adamwStep(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    options: { step: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
  ): void;
}
