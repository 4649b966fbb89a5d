import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';
import type { Nf4Tensor } from '../peft/qlora/nf4.js';

/**
 * The compute interface every backend implements: the native oneDNN addon, and the plain TypeScript
 * reference that tests compare against and that runs where the addon cannot load.
 *
 * Conventions, fixed so that backward ops can be added beside each forward op later:
 * - Activations are float32, row-major. `rows` is the number of token positions (batch x time).
 * - Weights are `[out, in]` matrices as in Hugging Face checkpoints (y = x Wᵀ + b). A backend turns a
 *   checkpoint tensor into an opaque `Weight` once (it may repack or convert it), then uses it per call.
 * - Biases and LayerNorm parameters stay float32 at every compute precision.
 * - Every op returns a fresh output array except the `...InPlace` ones; inputs are never modified.
 */
export interface Weight {
  /** Output features (rows of the `[out, in]` matrix). */
  readonly outFeatures: number;
  /** Input features (columns). */
  readonly inFeatures: number;
  /** Element type the backend computes with: 'f32', or 'bf16' (bf16 products, float32 accumulation). */
  readonly dtype: DType;
}

export interface AttentionArgs {
  /** Fused query_key_value output, `[batch, queryLen, heads, 3, headDim]` (BLOOM's per-head layout). */
  readonly qkv: Float32Array;
  readonly batch: number;
  readonly queryLen: number;
  readonly heads: number;
  readonly headDim: number;
  /**
   * Key and value cache, each `[batch, heads, capacity, headDim]`. The op writes this call's keys and
   * values at positions `pastLen .. pastLen + queryLen - 1`, then attends over positions
   * `0 .. pastLen + queryLen - 1`.
   */
  readonly keyCache: Float32Array;
  readonly valueCache: Float32Array;
  readonly capacity: number;
  readonly pastLen: number;
  /** `[batch, pastLen + queryLen]`, 1 for a real token and 0 for padding. */
  readonly mask: Uint8Array;
  /** ALiBi slope per head, `[heads]`. */
  readonly slopes: Float32Array;
}

/**
 * Log-probability of one target token per row of logits, and whether the target is the row's argmax
 * (lm-evaluation-harness's `is_greedy`).
 */
export interface TokenLogProbs {
  readonly logProbs: Float32Array;
  readonly isGreedy: Uint8Array;
}

export interface Backend {
  readonly name: 'native' | 'typescript';

  /** Prepares a `[out, in]` checkpoint tensor (f32, bf16 or f16 data) for compute at `dtype`. */
  prepareWeight(tensor: Tensor, dtype: 'f32' | 'bf16'): Weight;

  /**
   * Holds a 2-D `[out, in]` NF4-quantised matrix (src/peft/qlora/nf4.ts, blocks of 64) for compute at
   * `dtype`: only the packed codes and scales are kept, and linear, linearBackwardInput and embedding
   * dequantise blocks on the fly (each value code·absmax in float32, rounded to bf16 for bf16 compute).
   */
  prepareQuantizedWeight(nf4: Nf4Tensor, dtype: 'f32' | 'bf16'): Weight;

  /** y[rows, out] = x[rows, in] · Wᵀ + bias. */
  linear(x: Float32Array, rows: number, weight: Weight, bias: Float32Array | null): Float32Array;

  /** Gathers rows `ids` of an embedding table held as a Weight of shape `[vocab, hidden]`. */
  embedding(table: Weight, ids: Int32Array): Float32Array;

  /** LayerNorm over the last dimension `gamma.length`, biased variance, as PyTorch. */
  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number): Float32Array;

  /** GELU, tanh form: 0.5·x·(1 + tanh(0.79788456·x·(1 + 0.044715·x²))). */
  gelu(x: Float32Array): Float32Array;

  /** dst += src, elementwise (the residual connection). */
  addInPlace(dst: Float32Array, src: Float32Array): void;

  /**
   * Causal self-attention with ALiBi and a padding mask, as Hugging Face BLOOM computes it:
   * scores = q·k/√headDim + slope·pos_k with pos = (cumsum(mask) − 1)·mask; masked scores are replaced by
   * float32's lowest value (so a query with no visible key attends uniformly over every key).
   * Returns the context `[batch, queryLen, heads·headDim]`.
   */
  attention(args: AttentionArgs): Float32Array;

  /** Per-row log-softmax of `logits[rows, vocab]` read at `targets[rows]`. */
  tokenLogProbs(logits: Float32Array, vocab: number, targets: Int32Array): TokenLogProbs;
}
