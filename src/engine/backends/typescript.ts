import type { AttentionArgs, Backend, TokenLogProbs, Weight } from '../backend.js';
import { f16ArrayToF32, f32ArrayToBf16, roundToBf16InPlace } from '../dtype.js';
import type { GradientOps } from '../gradients.js';
import type { Tensor } from '../tensor.js';

/**
 * The plain TypeScript backend: portable, single-threaded, and written for clarity. It is the
 * reference the native backend is tested against, and the fallback where the addon cannot load.
 * Sums accumulate in float64 and round once to float32.
 */
class TypeScriptWeight implements Weight {
  constructor(
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly dtype: 'f32' | 'bf16',
    /** float32 values, or bf16 bit patterns when dtype is 'bf16'. */
    readonly data: Float32Array | Uint16Array,
  ) {}

  /** Row `row` of the [out, in] matrix as float32 (copied into `scratch` for bf16). */
  rowF32(row: number, scratch: Float32Array): Float32Array {
    const start = row * this.inFeatures;
    if (this.data instanceof Float32Array) return this.data.subarray(start, start + this.inFeatures);
    const bits = new Uint32Array(scratch.buffer, scratch.byteOffset, this.inFeatures);
    for (let k = 0; k < this.inFeatures; k++) bits[k] = this.data[start + k] << 16;
    return scratch;
  }
}

function asTypeScriptWeight(weight: Weight): TypeScriptWeight {
  if (!(weight instanceof TypeScriptWeight)) {
    throw new TypeError('weight was prepared by another backend; prepare it with this backend');
  }
  return weight;
}

function tensorToF32(tensor: Tensor): Float32Array {
  if (tensor.dtype === 'f32') return tensor.data as Float32Array;
  if (tensor.dtype === 'f16') return f16ArrayToF32(tensor.data as Uint16Array);
  const out = new Float32Array(tensor.data.length);
  new Uint32Array(out.buffer).set(tensor.data as Uint16Array);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) bits[i] <<= 16;
  return out;
}

/** Mean and 1/√(variance + eps) of `x[base .. base + dim)`, biased variance as PyTorch's LayerNorm. */
function rowStatistics(x: Float32Array, base: number, dim: number, eps: number): { mean: number; inverseStd: number } {
  let mean = 0;
  for (let i = 0; i < dim; i++) mean += x[base + i];
  mean /= dim;
  let variance = 0;
  for (let i = 0; i < dim; i++) variance += (x[base + i] - mean) ** 2;
  variance /= dim;
  return { mean, inverseStd: 1 / Math.sqrt(variance + eps) };
}

const GELU_SQRT_2_OVER_PI = 0.79788456;
const GELU_CUBIC = 0.044715;

/** float32's lowest value, which Hugging Face BLOOM writes into masked attention scores. */
const FLOAT32_LOWEST = -3.4028234663852886e38;

/** ALiBi key positions of batch row `b`: (cumsum(mask) − 1)·mask, into `positions[0 .. keyLen)`. */
function alibiPositions(mask: Uint8Array, b: number, keyLen: number, positions: Float64Array): void {
  let cumulative = 0;
  for (let j = 0; j < keyLen; j++) {
    const real = mask[b * keyLen + j];
    cumulative += real;
    positions[j] = (cumulative - 1) * real;
  }
}

/** Whether key `key` is hidden from the query at `queryPosition`: padding, or in the query's future. */
function isMaskedKey(mask: Uint8Array, b: number, keyLen: number, key: number, queryPosition: number): boolean {
  return mask[b * keyLen + key] === 0 || key > queryPosition;
}

/** Copies this call's keys and values of batch row `b`, head `h` from qkv into the caches at `pastLen ..`. */
function storeKeysAndValues(args: AttentionArgs, b: number, h: number): void {
  const { qkv, queryLen, heads, headDim, keyCache, valueCache, capacity, pastLen } = args;
  const cacheBase = (b * heads + h) * capacity;
  for (let i = 0; i < queryLen; i++) {
    const src = ((b * queryLen + i) * heads + h) * 3 * headDim;
    const dst = (cacheBase + pastLen + i) * headDim;
    for (let d = 0; d < headDim; d++) {
      keyCache[dst + d] = qkv[src + headDim + d];
      valueCache[dst + d] = qkv[src + 2 * headDim + d];
    }
  }
}

/**
 * Unnormalised attention weights exp(score − max) of query `i` (batch row `b`, head `h`) over keys
 * `0 .. pastLen + queryLen − 1`, into `weights`; returns their sum. The keys are read from the
 * cache, so `storeKeysAndValues` must have run. Masked scores are float32's lowest value, not −∞, so a
 * query with no visible key weights every key equally, as Hugging Face does.
 */
function attentionWeights(args: AttentionArgs, b: number, h: number, i: number, positions: Float64Array, weights: Float64Array): number {
  const { qkv, queryLen, heads, headDim, keyCache, capacity, pastLen, mask, slopes } = args;
  const keyLen = pastLen + queryLen;
  const scale = 1 / Math.sqrt(headDim);
  const cacheBase = (b * heads + h) * capacity;
  const q = ((b * queryLen + i) * heads + h) * 3 * headDim;
  const queryPosition = pastLen + i;
  let max = -Infinity;
  for (let j = 0; j < keyLen; j++) {
    let score: number;
    if (isMaskedKey(mask, b, keyLen, j, queryPosition)) {
      score = FLOAT32_LOWEST;
    } else {
      let dot = 0;
      const k = (cacheBase + j) * headDim;
      for (let d = 0; d < headDim; d++) dot += qkv[q + d] * keyCache[k + d];
      score = Math.fround(Math.fround(dot) * scale + slopes[h] * positions[j]);
    }
    weights[j] = score;
    if (score > max) max = score;
  }
  let total = 0;
  for (let j = 0; j < keyLen; j++) {
    weights[j] = Math.exp(weights[j] - max);
    total += weights[j];
  }
  return total;
}

export class TypeScriptBackend implements Backend, GradientOps {
  readonly name = 'typescript' as const;

  prepareWeight(tensor: Tensor, dtype: 'f32' | 'bf16'): Weight {
    if (tensor.shape.length !== 2) {
      throw new RangeError(`a weight must be a 2-D [out, in] tensor, got shape [${tensor.shape.join(', ')}]`);
    }
    const [outFeatures, inFeatures] = tensor.shape;
    if (dtype === 'bf16') {
      const bits = tensor.dtype === 'bf16' ? (tensor.data as Uint16Array) : f32ArrayToBf16(tensorToF32(tensor));
      return new TypeScriptWeight(outFeatures, inFeatures, 'bf16', bits);
    }
    return new TypeScriptWeight(outFeatures, inFeatures, 'f32', tensorToF32(tensor));
  }

  linear(x: Float32Array, rows: number, weight: Weight, bias: Float32Array | null): Float32Array {
    const w = asTypeScriptWeight(weight);
    const { inFeatures: k, outFeatures: n } = w;
    if (x.length !== rows * k) throw new RangeError(`linear: x has ${x.length} values, expected ${rows} x ${k}`);
    if (bias && bias.length !== n) throw new RangeError(`linear: bias has ${bias.length} values, expected ${n}`);
    // bf16 compute rounds the activations to bf16 too, as a bf16 x bf16 -> f32 matmul does.
    const input = w.dtype === 'bf16' ? Float32Array.from(x) : x;
    if (w.dtype === 'bf16') roundToBf16InPlace(input);
    const out = new Float32Array(rows * n);
    const scratch = new Float32Array(k);
    for (let j = 0; j < n; j++) {
      const wRow = w.rowF32(j, scratch);
      const b = bias ? bias[j] : 0;
      for (let i = 0; i < rows; i++) {
        let sum = 0;
        const base = i * k;
        for (let t = 0; t < k; t++) sum += input[base + t] * wRow[t];
        out[i * n + j] = sum + b;
      }
    }
    return out;
  }

  embedding(table: Weight, ids: Int32Array): Float32Array {
    const w = asTypeScriptWeight(table);
    const h = w.inFeatures;
    const out = new Float32Array(ids.length * h);
    const scratch = new Float32Array(h);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < w.outFeatures)) throw new RangeError(`embedding: token id ${id} is outside the vocabulary [0, ${w.outFeatures})`);
      out.set(w.rowF32(id, scratch), i * h);
    }
    return out;
  }

  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number): Float32Array {
    const dim = gamma.length;
    if (x.length % dim !== 0) throw new RangeError(`layerNorm: ${x.length} values do not split into rows of ${dim}`);
    const out = new Float32Array(x.length);
    for (let base = 0; base < x.length; base += dim) {
      let mean = 0;
      for (let i = 0; i < dim; i++) mean += x[base + i];
      mean /= dim;
      let variance = 0;
      for (let i = 0; i < dim; i++) variance += (x[base + i] - mean) ** 2;
      variance /= dim;
      const inv = 1 / Math.sqrt(variance + eps);
      for (let i = 0; i < dim; i++) out[base + i] = (x[base + i] - mean) * inv * gamma[i] + beta[i];
    }
    return out;
  }

  gelu(x: Float32Array): Float32Array {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      out[i] = v * 0.5 * (1 + Math.tanh(0.79788456 * v * (1 + 0.044715 * v * v)));
    }
    return out;
  }

  addInPlace(dst: Float32Array, src: Float32Array): void {
    if (dst.length !== src.length) throw new RangeError(`addInPlace: lengths differ (${dst.length} vs ${src.length})`);
    for (let i = 0; i < dst.length; i++) dst[i] += src[i];
  }

  attention(args: AttentionArgs): Float32Array {
    const { qkv, batch, queryLen, heads, headDim, keyCache, valueCache, capacity, pastLen, mask, slopes } = args;
    const keyLen = pastLen + queryLen;
    const hidden = heads * headDim;
    const scale = 1 / Math.sqrt(headDim);
    const lowest = -3.4028234663852886e38;
    const context = new Float32Array(batch * queryLen * hidden);
    const scores = new Float64Array(keyLen);
    const positions = new Float64Array(keyLen);

    for (let b = 0; b < batch; b++) {
      let cumulative = 0;
      for (let j = 0; j < keyLen; j++) {
        const real = mask[b * keyLen + j];
        cumulative += real;
        positions[j] = (cumulative - 1) * real;
      }
      for (let h = 0; h < heads; h++) {
        const cacheBase = (b * heads + h) * capacity;
        for (let i = 0; i < queryLen; i++) {
          const src = ((b * queryLen + i) * heads + h) * 3 * headDim;
          const dst = (cacheBase + pastLen + i) * headDim;
          for (let d = 0; d < headDim; d++) {
            keyCache[dst + d] = qkv[src + headDim + d];
            valueCache[dst + d] = qkv[src + 2 * headDim + d];
          }
        }
        for (let i = 0; i < queryLen; i++) {
          const q = ((b * queryLen + i) * heads + h) * 3 * headDim;
          const queryPosition = pastLen + i;
          let max = -Infinity;
          for (let j = 0; j < keyLen; j++) {
            let score: number;
            if (mask[b * keyLen + j] === 0 || j > queryPosition) {
              score = lowest;
            } else {
              let dot = 0;
              const k = (cacheBase + j) * headDim;
              for (let d = 0; d < headDim; d++) dot += qkv[q + d] * keyCache[k + d];
              score = Math.fround(Math.fround(dot) * scale + slopes[h] * positions[j]);
            }
            scores[j] = score;
            if (score > max) max = score;
          }
          let total = 0;
          for (let j = 0; j < keyLen; j++) {
            scores[j] = Math.exp(scores[j] - max);
            total += scores[j];
          }
          const out = (b * queryLen + i) * hidden + h * headDim;
          for (let d = 0; d < headDim; d++) {
            let sum = 0;
            for (let j = 0; j < keyLen; j++) sum += scores[j] * valueCache[(cacheBase + j) * headDim + d];
            context[out + d] = sum / total;
          }
        }
      }
    }
    return context;
  }

  tokenLogProbs(logits: Float32Array, vocab: number, targets: Int32Array): TokenLogProbs {
    const rows = targets.length;
    if (logits.length !== rows * vocab) throw new RangeError(`tokenLogProbs: logits has ${logits.length} values, expected ${rows} x ${vocab}`);
    const logProbs = new Float32Array(rows);
    const isGreedy = new Uint8Array(rows);
    for (let r = 0; r < rows; r++) {
      const base = r * vocab;
      const target = targets[r];
      if (!(target >= 0 && target < vocab)) throw new RangeError(`tokenLogProbs: target ${target} is outside the vocabulary [0, ${vocab})`);
      let max = -Infinity;
      let argmax = 0;
      for (let v = 0; v < vocab; v++) {
        if (logits[base + v] > max) {
          max = logits[base + v];
          argmax = v;
        }
      }
      let total = 0;
      for (let v = 0; v < vocab; v++) total += Math.exp(logits[base + v] - max);
      logProbs[r] = logits[base + target] - max - Math.log(total);
      isGreedy[r] = argmax === target ? 1 : 0;
    }
    return { logProbs, isGreedy };
  }
}
