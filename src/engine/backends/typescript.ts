import type { AttentionArgs, Backend, TokenLogProbs, Weight } from '../backend.js';
import { f16ArrayToF32, f32ArrayToBf16, roundToBf16InPlace } from '../dtype.js';
import type { GradientOps } from '../gradients.js';
import type { Tensor } from '../tensor.js';
import { dequantizeNf4Range, nf4BlockAbsmax, NF4_BLOCK_SIZE, type Nf4Tensor } from '../../peft/qlora/nf4.js';

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

/**
 * An NF4-quantised weight: the packed codes and float32 block scales (double-quantised scales are
 * resolved once here). Rows are dequantised on the fly: code·absmax in float32, rounded to bf16 when
 * computing at bf16.
 */
class TypeScriptNf4Weight implements Weight {
  private readonly absmax: Float32Array;

  constructor(
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly dtype: 'f32' | 'bf16',
    private readonly nf4: Nf4Tensor,
  ) {
    this.absmax = nf4BlockAbsmax(nf4);
  }

  rowF32(row: number, scratch: Float32Array): Float32Array {
    dequantizeNf4Range(this.nf4, this.absmax, row * this.inFeatures, this.inFeatures, scratch);
    if (this.dtype === 'bf16') roundToBf16InPlace(scratch.subarray(0, this.inFeatures));
    return scratch.subarray(0, this.inFeatures);
  }
}

function asTypeScriptWeight(weight: Weight): TypeScriptWeight | TypeScriptNf4Weight {
  if (!(weight instanceof TypeScriptWeight) && !(weight instanceof TypeScriptNf4Weight)) {
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

/** A cross-entropy target that marks a row to leave out of the loss, as PyTorch's ignore_index. */
const IGNORED_TARGET = -100;

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

  prepareQuantizedWeight(nf4: Nf4Tensor, dtype: 'f32' | 'bf16'): Weight {
    if (dtype !== 'f32' && dtype !== 'bf16') throw new TypeError(`prepareQuantizedWeight: dtype must be 'f32' or 'bf16', got ${String(dtype)}`);
    if (nf4.shape.length !== 2) throw new RangeError(`prepareQuantizedWeight: a weight must be 2-D [out, in], got shape [${nf4.shape.join(', ')}]`);
    if (nf4.blockSize !== NF4_BLOCK_SIZE) throw new RangeError(`prepareQuantizedWeight: blockSize must be ${NF4_BLOCK_SIZE}, got ${nf4.blockSize}`);
    const [outFeatures, inFeatures] = nf4.shape;
    if (nf4.packed.length !== Math.ceil((outFeatures * inFeatures) / 2)) throw new RangeError('prepareQuantizedWeight: packed does not match the shape');
    return new TypeScriptNf4Weight(outFeatures, inFeatures, dtype, nf4);
  }

  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options: { transposeA?: boolean; transposeB?: boolean } = {}): Float32Array {
    const transposeA = options.transposeA ?? false;
    const transposeB = options.transposeB ?? false;
    if (a.length !== m * k) throw new RangeError(`matmul: a has ${a.length} values, expected ${m} x ${k}`);
    if (b.length !== k * n) throw new RangeError(`matmul: b has ${b.length} values, expected ${k} x ${n}`);
    // Strides that read op(a)[i, t] and op(b)[t, j] from either storage order.
    const [aRowStride, aColStride] = transposeA ? [1, m] : [k, 1];
    const [bRowStride, bColStride] = transposeB ? [1, k] : [n, 1];
    const out = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let t = 0; t < k; t++) sum += a[i * aRowStride + t * aColStride] * b[t * bRowStride + j * bColStride];
        out[i * n + j] = sum;
      }
    }
    return out;
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

  linearBackwardInput(dy: Float32Array, rows: number, weight: Weight): Float32Array {
    const w = asTypeScriptWeight(weight);
    const { inFeatures: k, outFeatures: n } = w;
    if (dy.length !== rows * n) throw new RangeError(`linearBackwardInput: dy has ${dy.length} values, expected ${rows} x ${n}`);
    // dx = dy · W with W's stored values. For a bf16 weight dy is rounded to bf16 too, as PyTorch's
    // autocast computes this product (and the native backend, at bf16 speed). The forward's rounding
    // of x to bf16 is treated as the identity, so it contributes nothing here.
    let g16 = dy;
    if (w.dtype === 'bf16') {
      g16 = Float32Array.from(dy);
      roundToBf16InPlace(g16);
    }
    const sums = new Float64Array(rows * k);
    const scratch = new Float32Array(k);
    for (let j = 0; j < n; j++) {
      const wRow = w.rowF32(j, scratch);
      for (let i = 0; i < rows; i++) {
        const g = g16[i * n + j];
        if (g === 0) continue;
        const base = i * k;
        for (let t = 0; t < k; t++) sums[base + t] += g * wRow[t];
      }
    }
    return Float32Array.from(sums);
  }

  sumRows(dy: Float32Array, rows: number, cols: number): Float32Array {
    if (dy.length !== rows * cols) throw new RangeError(`sumRows: dy has ${dy.length} values, expected ${rows} x ${cols}`);
    const sums = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) sums[j] += dy[i * cols + j];
    }
    return Float32Array.from(sums);
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
      const { mean, inverseStd } = rowStatistics(x, base, dim, eps);
      for (let i = 0; i < dim; i++) out[base + i] = (x[base + i] - mean) * inverseStd * gamma[i] + beta[i];
    }
    return out;
  }

  layerNormBackward(x: Float32Array, gamma: Float32Array, dy: Float32Array, eps: number): { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array } {
    const dim = gamma.length;
    if (x.length % dim !== 0) throw new RangeError(`layerNormBackward: ${x.length} values do not split into rows of ${dim}`);
    if (dy.length !== x.length) throw new RangeError(`layerNormBackward: dy has ${dy.length} values, x has ${x.length}`);
    const dx = new Float32Array(x.length);
    const dGamma = new Float64Array(dim);
    const dBeta = new Float64Array(dim);
    const normalised = new Float64Array(dim);
    const dNormalised = new Float64Array(dim);
    for (let base = 0; base < x.length; base += dim) {
      const { mean, inverseStd } = rowStatistics(x, base, dim, eps);
      let meanDNormalised = 0;
      let meanDNormalisedTimesNormalised = 0;
      for (let i = 0; i < dim; i++) {
        normalised[i] = (x[base + i] - mean) * inverseStd;
        dNormalised[i] = dy[base + i] * gamma[i];
        meanDNormalised += dNormalised[i];
        meanDNormalisedTimesNormalised += dNormalised[i] * normalised[i];
        dGamma[i] += dy[base + i] * normalised[i];
        dBeta[i] += dy[base + i];
      }
      meanDNormalised /= dim;
      meanDNormalisedTimesNormalised /= dim;
      // The mean and variance depend on every x of the row, hence the two row-mean terms.
      for (let i = 0; i < dim; i++) {
        dx[base + i] = inverseStd * (dNormalised[i] - meanDNormalised - normalised[i] * meanDNormalisedTimesNormalised);
      }
    }
    return { dx, dGamma: Float32Array.from(dGamma), dBeta: Float32Array.from(dBeta) };
  }

  gelu(x: Float32Array): Float32Array {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      out[i] = v * 0.5 * (1 + Math.tanh(GELU_SQRT_2_OVER_PI * v * (1 + GELU_CUBIC * v * v)));
    }
    return out;
  }

  geluBackward(x: Float32Array, dy: Float32Array): Float32Array {
    if (dy.length !== x.length) throw new RangeError(`geluBackward: dy has ${dy.length} values, x has ${x.length}`);
    const dx = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      const tanh = Math.tanh(GELU_SQRT_2_OVER_PI * v * (1 + GELU_CUBIC * v * v));
      const dInnerDx = GELU_SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * v * v);
      dx[i] = dy[i] * (0.5 * (1 + tanh) + 0.5 * v * (1 - tanh * tanh) * dInnerDx);
    }
    return dx;
  }

  addInPlace(dst: Float32Array, src: Float32Array): void {
    if (dst.length !== src.length) throw new RangeError(`addInPlace: lengths differ (${dst.length} vs ${src.length})`);
    for (let i = 0; i < dst.length; i++) dst[i] += src[i];
  }

  attention(args: AttentionArgs): Float32Array {
    const { batch, queryLen, heads, headDim, valueCache, capacity, pastLen } = args;
    const keyLen = pastLen + queryLen;
    const hidden = heads * headDim;
    const context = new Float32Array(batch * queryLen * hidden);
    const weights = new Float64Array(keyLen);
    const positions = new Float64Array(keyLen);

    for (let b = 0; b < batch; b++) {
      alibiPositions(args.mask, b, keyLen, positions);
      for (let h = 0; h < heads; h++) {
        const cacheBase = (b * heads + h) * capacity;
        storeKeysAndValues(args, b, h);
        for (let i = 0; i < queryLen; i++) {
          const total = attentionWeights(args, b, h, i, positions, weights);
          const out = (b * queryLen + i) * hidden + h * headDim;
          for (let d = 0; d < headDim; d++) {
            let sum = 0;
            for (let j = 0; j < keyLen; j++) sum += weights[j] * valueCache[(cacheBase + j) * headDim + d];
            context[out + d] = sum / total;
          }
        }
      }
    }
    return context;
  }

  attentionBackward(args: AttentionArgs, dContext: Float32Array): Float32Array {
    const { qkv, batch, queryLen, heads, headDim, mask, pastLen, capacity } = args;
    if (pastLen !== 0 || capacity !== queryLen) {
      throw new RangeError(`attentionBackward: needs pastLen 0 and capacity = queryLen, got pastLen ${pastLen}, capacity ${capacity} for queryLen ${queryLen}`);
    }
    const hidden = heads * headDim;
    if (dContext.length !== batch * queryLen * hidden) {
      throw new RangeError(`attentionBackward: dContext has ${dContext.length} values, expected ${batch} x ${queryLen} x ${hidden}`);
    }
    const T = queryLen; // also the key count, as there is no cache
    const scale = 1 / Math.sqrt(headDim);
    const dQkv = new Float32Array(qkv.length);
    const positions = new Float64Array(T);
    const probabilities = new Float64Array(T * T);
    const dProbabilities = new Float64Array(T);
    const dQuery = new Float64Array(T * headDim);
    const dKey = new Float64Array(T * headDim);
    const dValue = new Float64Array(T * headDim);
    /** Offset of token `i`'s q (part 0), k (1) or v (2) of head `h` in the fused layout. */
    const fused = (b: number, h: number, i: number, part: number) => ((b * T + i) * heads + h) * 3 * headDim + part * headDim;

    for (let b = 0; b < batch; b++) {
      alibiPositions(mask, b, T, positions);
      for (let h = 0; h < heads; h++) {
        storeKeysAndValues(args, b, h);
        for (let i = 0; i < T; i++) {
          const row = probabilities.subarray(i * T, (i + 1) * T);
          const total = attentionWeights(args, b, h, i, positions, row);
          for (let j = 0; j < T; j++) row[j] /= total;
        }
        dQuery.fill(0);
        dKey.fill(0);
        dValue.fill(0);
        for (let i = 0; i < T; i++) {
          const dOut = (b * T + i) * hidden + h * headDim;
          // dV = Pᵀ·dO and dP = dO·Vᵀ.
          let rowDot = 0;
          for (let j = 0; j < T; j++) {
            const p = probabilities[i * T + j];
            const v = fused(b, h, j, 2);
            let dp = 0;
            for (let d = 0; d < headDim; d++) {
              dValue[j * headDim + d] += p * dContext[dOut + d];
              dp += dContext[dOut + d] * qkv[v + d];
            }
            dProbabilities[j] = dp;
            rowDot += dp * p;
          }
          // Softmax backward, dS = P ⊙ (dP − rowsum(dP ⊙ P)); a masked score is a constant, so it gets
          // none (nor does any score of a fully masked row, whose uniform weights ignore q and k).
          const q = fused(b, h, i, 0);
          for (let j = 0; j < T; j++) {
            if (isMaskedKey(mask, b, T, j, i)) continue;
            const dScore = probabilities[i * T + j] * (dProbabilities[j] - rowDot) * scale;
            const k = fused(b, h, j, 1);
            for (let d = 0; d < headDim; d++) {
              dQuery[i * headDim + d] += dScore * qkv[k + d];
              dKey[j * headDim + d] += dScore * qkv[q + d];
            }
          }
        }
        for (let i = 0; i < T; i++) {
          for (let d = 0; d < headDim; d++) {
            dQkv[fused(b, h, i, 0) + d] = dQuery[i * headDim + d];
            dQkv[fused(b, h, i, 1) + d] = dKey[i * headDim + d];
            dQkv[fused(b, h, i, 2) + d] = dValue[i * headDim + d];
          }
        }
      }
    }
    return dQkv;
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

  crossEntropy(logits: Float32Array, vocab: number, targets: Int32Array, scale: number, options: { overwriteLogits?: boolean } = {}): { lossSum: number; counted: number; dLogits: Float32Array } {
    const rows = targets.length;
    if (logits.length !== rows * vocab) throw new RangeError(`crossEntropy: logits has ${logits.length} values, expected ${rows} x ${vocab}`);
    const dLogits = options.overwriteLogits ? logits : new Float32Array(logits.length);
    let lossSum = 0;
    let counted = 0;
    for (let r = 0; r < rows; r++) {
      const target = targets[r];
      if (target === IGNORED_TARGET) {
        if (options.overwriteLogits) dLogits.fill(0, r * vocab, (r + 1) * vocab);
        continue;
      }
      if (!(target >= 0 && target < vocab)) throw new RangeError(`crossEntropy: target ${target} is outside the vocabulary [0, ${vocab}) and is not ${IGNORED_TARGET}`);
      const base = r * vocab;
      // Subtracting the row max keeps exp() from overflowing; softmax and the loss do not change.
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) max = Math.max(max, logits[base + v]);
      let total = 0;
      for (let v = 0; v < vocab; v++) total += Math.exp(logits[base + v] - max);
      const logTotal = Math.log(total);
      const targetLogit = logits[base + target];
      lossSum += max + logTotal - targetLogit;
      counted++;
      for (let v = 0; v < vocab; v++) dLogits[base + v] = scale * Math.exp(logits[base + v] - max - logTotal);
      dLogits[base + target] = scale * (Math.exp(targetLogit - max - logTotal) - 1);
    }
    return { lossSum, counted, dLogits };
  }

  adamwStep(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    options: { step: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
  ): void {
    const { step, lr, beta1, beta2, eps, weightDecay } = options;
    if (grad.length !== param.length || m.length !== param.length || v.length !== param.length) {
      throw new RangeError(`adamwStep: param, grad, m and v must have equal lengths, got ${param.length}, ${grad.length}, ${m.length}, ${v.length}`);
    }
    if (!(Number.isInteger(step) && step >= 1)) throw new RangeError(`adamwStep: step must be an integer from 1, got ${step}`);
    // The same operations in the same order as torch.optim.AdamW's single-tensor path (torch 1.13).
    const bias1 = 1 - beta1 ** step;
    const sqrtBias2 = Math.sqrt(1 - beta2 ** step);
    const stepSize = lr / bias1;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i];
      const decayed = param[i] * (1 - lr * weightDecay);
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      const denom = Math.sqrt(vi) / sqrtBias2 + eps;
      param[i] = decayed - (stepSize * mi) / denom;
      m[i] = mi;
      v[i] = vi;
    }
  }
}
