import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '../../errors.js';
import type { AttentionArgs, Backend, TokenLogProbs, Weight } from '../backend.js';
import type { DType } from '../dtype.js';
import type { GradientOps } from '../gradients.js';
import type { Tensor } from '../tensor.js';
import { DOUBLE_QUANT_BLOCK_SIZE, NF4_BLOCK_SIZE, type Nf4Tensor } from '../../peft/qlora/nf4.js';

/**
 * The native backend: the C++ addon in native/src (oneDNN matmuls, AVX-512 or AVX2 kernels, OpenMP
 * threads, waiting passively: see applyOpenMpWaitDefaults), built by scripts/build-native.mjs into
 * build/Release/tuneloop_native.node.
 *
 * Every argument is checked here before it reaches native code, so a wrong call throws a
 * TypeError or RangeError naming the argument instead of reading out of bounds. The addon repeats
 * the checks that guard memory safety for callers that bypass this class.
 */

const ADDON_FILE = join('build', 'Release', 'tuneloop_native.node');

declare const nativeHandle: unique symbol;
/** An opaque reference to a packed weight owned by the addon (freed when garbage-collected). */
type NativeHandle = { readonly [nativeHandle]: true };

interface NativeAddon {
  prepareWeight(data: Float32Array | Uint16Array, srcDtype: number, outFeatures: number, inFeatures: number, dtype: number): NativeHandle;
  weightBytes(weight: NativeHandle): number;
  linear(x: Float32Array, rows: number, weight: NativeHandle, bias: Float32Array | null, out: Float32Array): void;
  embedding(table: NativeHandle, ids: Int32Array, out: Float32Array): void;
  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, out: Float32Array): void;
  gelu(x: Float32Array, out: Float32Array): void;
  addInPlace(dst: Float32Array, src: Float32Array): void;
  attention(
    qkv: Float32Array,
    batch: number,
    queryLen: number,
    heads: number,
    headDim: number,
    keyCache: Float32Array,
    valueCache: Float32Array,
    capacity: number,
    pastLen: number,
    mask: Uint8Array,
    slopes: Float32Array,
    out: Float32Array,
  ): void;
  tokenLogProbs(logits: Float32Array, vocab: number, targets: Int32Array, logProbs: Float32Array, isGreedy: Uint8Array): void;
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, out: Float32Array): void;
  linearBackwardInput(dy: Float32Array, rows: number, weight: NativeHandle, out: Float32Array): void;
  sumRows(dy: Float32Array, rows: number, cols: number, out: Float32Array): void;
  layerNormBackward(x: Float32Array, gamma: Float32Array, dy: Float32Array, eps: number, dx: Float32Array, dGamma: Float32Array, dBeta: Float32Array): void;
  geluBackward(x: Float32Array, dy: Float32Array, out: Float32Array): void;
  attentionBackward(
    qkv: Float32Array,
    batch: number,
    queryLen: number,
    heads: number,
    headDim: number,
    keyCache: Float32Array,
    valueCache: Float32Array,
    capacity: number,
    mask: Uint8Array,
    slopes: Float32Array,
    dContext: Float32Array,
    out: Float32Array,
  ): void;
  /** Returns [lossSum, counted]. */
  crossEntropy(logits: Float32Array, vocab: number, targets: Int32Array, scale: number, dLogits: Float32Array): [number, number];
  adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, step: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number): void;
  prepareNf4Weight(
    packed: Uint8Array,
    outFeatures: number,
    inFeatures: number,
    dtype: number,
    absmax: Float32Array | null,
    absmaxCodes: Uint8Array | null,
    code: Float32Array | null,
    absmax2: Float32Array | null,
    offset: number,
  ): NativeHandle;
  nf4WeightBytes(weight: NativeHandle): number;
  nf4Linear(x: Float32Array, rows: number, weight: NativeHandle, bias: Float32Array | null, out: Float32Array): void;
  nf4Embedding(table: NativeHandle, ids: Int32Array, out: Float32Array): void;
  nf4LinearBackwardInput(dy: Float32Array, rows: number, weight: NativeHandle, out: Float32Array): void;
  fmaPeakGflops(seconds: number): number;
  bf16DotPeakGflops(seconds: number): number;
  threads(): number;
  setThreads(threads: number): void;
  capabilities(): NativeCapabilities;
}

/** What the addon was built for on this machine, and the matmul path bf16 weights take. */
export interface NativeCapabilities {
  /** The vector ISA of tuneloop's own kernels: 'avx512_bf16', 'avx512', 'avx2' or 'scalar'. */
  readonly isa: string;
  /** The ISA oneDNN's JIT uses here, e.g. 'avx2', 'avx512_core_bf16', 'avx512_core_amx'. */
  readonly onednnIsa: string;
  /**
   * 'onednn-bf16': oneDNN multiplies bf16 directly (AVX512_BF16, AMX). 'bf16-as-f32-slabs': bf16
   * weights stay bf16 in memory and are widened to float32 a slab at a time (same results).
   */
  readonly bf16Matmul: 'onednn-bf16' | 'bf16-as-f32-slabs';
}

const DTYPE_CODE: Readonly<Record<DType, number>> = { f32: 0, bf16: 1, f16: 2 };

/** A weight converted and packed by the addon into oneDNN's blocked layout. */
export class NativeWeight implements Weight {
  constructor(
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly dtype: 'f32' | 'bf16',
    /** @internal */ readonly handle: NativeHandle,
    /** Bytes of native memory held (the packed matrix, padding included). */
    readonly bytes: number,
  ) {}
}

/** An NF4-quantised weight held by the addon: packed 4-bit codes and block scales only. */
export class NativeNf4Weight implements Weight {
  constructor(
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly dtype: 'f32' | 'bf16',
    /** @internal */ readonly handle: NativeHandle,
    /** Bytes of native memory held (packed codes and scales). */
    readonly bytes: number,
  ) {}
}

function fail(op: string, detail: string, kind: 'type' | 'range' = 'range'): never {
  const message = `${op}: ${detail}`;
  throw kind === 'type' ? new TypeError(message) : new RangeError(message);
}

function checkFloat32(op: string, name: string, value: unknown): asserts value is Float32Array {
  if (!(value instanceof Float32Array)) fail(op, `${name} must be a Float32Array`, 'type');
}

function checkInteger(op: string, name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== 'number') fail(op, `${name} must be a number, got ${typeof value}`, 'type');
  if (!Number.isSafeInteger(value) || value < min) fail(op, `${name} must be an integer >= ${min}, got ${value}`);
}

function checkLength(op: string, name: string, actual: number, expected: number): void {
  if (actual !== expected) fail(op, `${name} has ${actual} elements, expected ${expected}`);
}

function checkIndices(op: string, name: string, values: Int32Array, limit: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0 || v >= limit) fail(op, `${name}[${i}] = ${v} is outside [0, ${limit})`);
  }
}

function checkFinite(op: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') fail(op, `${name} must be a number, got ${typeof value}`, 'type');
  if (!Number.isFinite(value)) fail(op, `${name} must be finite, got ${value}`);
}

function checkMask(op: string, mask: unknown, length: number): asserts mask is Uint8Array {
  if (!(mask instanceof Uint8Array)) fail(op, 'mask must be a Uint8Array', 'type');
  checkLength(op, 'mask', mask.length, length);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] > 1) fail(op, `mask[${i}] = ${mask[i]}; the mask holds 0 (padding) or 1 (token)`);
  }
}

/** Throws when two of the named arrays share memory (an op that writes one while reading another). */
function checkDisjoint(op: string, arrays: Record<string, ArrayBufferView>): void {
  const entries = Object.entries(arrays);
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const [nameA, a] = entries[i];
      const [nameB, b] = entries[j];
      if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) continue;
      if (a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength) {
        fail(op, `${nameA} and ${nameB} share memory; pass separate arrays`);
      }
    }
  }
}

export class NativeBackend implements Backend, GradientOps {
  readonly name = 'native' as const;

  /** The thread count the addon started with (OMP_NUM_THREADS, else one per core). */
  readonly defaultThreads: number;

  constructor(private readonly addon: NativeAddon) {
    this.defaultThreads = addon.threads();
  }

  prepareWeight(tensor: Tensor, dtype: 'f32' | 'bf16'): Weight {
    const op = 'prepareWeight';
    if (dtype !== 'f32' && dtype !== 'bf16') fail(op, `dtype must be 'f32' or 'bf16', got ${String(dtype)}`, 'type');
    if (tensor.shape.length !== 2) fail(op, `a weight must be a 2-D [out, in] tensor, got shape [${tensor.shape.join(', ')}]`);
    const [outFeatures, inFeatures] = tensor.shape;
    checkInteger(op, 'shape[0]', outFeatures, 1);
    checkInteger(op, 'shape[1]', inFeatures, 1);
    const code = DTYPE_CODE[tensor.dtype];
    if (code === undefined) fail(op, `tensor.dtype must be f32, bf16 or f16, got ${String(tensor.dtype)}`, 'type');
    const wantF32 = tensor.dtype === 'f32';
    if (wantF32 ? !(tensor.data instanceof Float32Array) : !(tensor.data instanceof Uint16Array)) {
      fail(op, `tensor.data must be a ${wantF32 ? 'Float32Array' : 'Uint16Array'} for dtype ${tensor.dtype}`, 'type');
    }
    checkLength(op, 'tensor.data', tensor.data.length, outFeatures * inFeatures);
    const handle = this.addon.prepareWeight(tensor.data, code, outFeatures, inFeatures, DTYPE_CODE[dtype]);
    return new NativeWeight(outFeatures, inFeatures, dtype, handle, this.addon.weightBytes(handle));
  }

  prepareQuantizedWeight(nf4: Nf4Tensor, dtype: 'f32' | 'bf16'): Weight {
    const op = 'prepareQuantizedWeight';
    if (dtype !== 'f32' && dtype !== 'bf16') fail(op, `dtype must be 'f32' or 'bf16', got ${String(dtype)}`, 'type');
    if (nf4 === null || typeof nf4 !== 'object') fail(op, 'nf4 must be an Nf4Tensor', 'type');
    if (nf4.blockSize !== NF4_BLOCK_SIZE) fail(op, `blockSize must be ${NF4_BLOCK_SIZE}, got ${String(nf4.blockSize)}`);
    if (nf4.shape.length !== 2) fail(op, `a weight must be a 2-D [out, in] tensor, got shape [${nf4.shape.join(', ')}]`);
    const [outFeatures, inFeatures] = nf4.shape;
    checkInteger(op, 'shape[0]', outFeatures, 1);
    checkInteger(op, 'shape[1]', inFeatures, 1);
    if (!(nf4.packed instanceof Uint8Array)) fail(op, 'packed must be a Uint8Array', 'type');
    const count = outFeatures * inFeatures;
    const blocks = Math.ceil(count / NF4_BLOCK_SIZE);
    checkLength(op, 'packed', nf4.packed.length, Math.ceil(count / 2));
    let handle: NativeHandle;
    if (nf4.absmax instanceof Float32Array) {
      checkLength(op, 'absmax', nf4.absmax.length, blocks);
      handle = this.addon.prepareNf4Weight(nf4.packed, outFeatures, inFeatures, DTYPE_CODE[dtype], nf4.absmax, null, null, null, 0);
    } else {
      const { quantized, code, absmax2, offset } = nf4.absmax;
      if (!(quantized instanceof Uint8Array)) fail(op, 'absmax.quantized must be a Uint8Array', 'type');
      checkFloat32(op, 'absmax.code', code);
      checkFloat32(op, 'absmax.absmax2', absmax2);
      checkFinite(op, 'absmax.offset', offset);
      checkLength(op, 'absmax.quantized', quantized.length, blocks);
      checkLength(op, 'absmax.code', code.length, 256);
      checkLength(op, 'absmax.absmax2', absmax2.length, Math.ceil(blocks / DOUBLE_QUANT_BLOCK_SIZE));
      handle = this.addon.prepareNf4Weight(nf4.packed, outFeatures, inFeatures, DTYPE_CODE[dtype], null, quantized, code, absmax2, offset);
    }
    return new NativeNf4Weight(outFeatures, inFeatures, dtype, handle, this.addon.nf4WeightBytes(handle));
  }

  linear(x: Float32Array, rows: number, weight: Weight, bias: Float32Array | null): Float32Array {
    const op = 'linear';
    const w = this.anyNativeWeight(op, weight);
    checkFloat32(op, 'x', x);
    checkInteger(op, 'rows', rows, 0);
    checkLength(op, 'x', x.length, rows * w.inFeatures);
    if (bias !== null) {
      checkFloat32(op, 'bias', bias);
      checkLength(op, 'bias', bias.length, w.outFeatures);
    }
    const out = new Float32Array(rows * w.outFeatures);
    if (rows > 0 && w instanceof NativeNf4Weight) this.addon.nf4Linear(x, rows, w.handle, bias, out);
    else if (rows > 0) this.addon.linear(x, rows, w.handle, bias, out);
    return out;
  }

  embedding(table: Weight, ids: Int32Array): Float32Array {
    const op = 'embedding';
    const w = this.anyNativeWeight(op, table);
    if (!(ids instanceof Int32Array)) fail(op, 'ids must be an Int32Array', 'type');
    checkIndices(op, 'ids', ids, w.outFeatures);
    const out = new Float32Array(ids.length * w.inFeatures);
    if (ids.length > 0 && w instanceof NativeNf4Weight) this.addon.nf4Embedding(w.handle, ids, out);
    else if (ids.length > 0) this.addon.embedding(w.handle, ids, out);
    return out;
  }

  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number): Float32Array {
    const op = 'layerNorm';
    checkFloat32(op, 'x', x);
    checkFloat32(op, 'gamma', gamma);
    checkFloat32(op, 'beta', beta);
    if (gamma.length === 0) fail(op, 'gamma is empty');
    checkLength(op, 'beta', beta.length, gamma.length);
    if (x.length % gamma.length !== 0) fail(op, `x has ${x.length} values, not a whole number of rows of ${gamma.length}`);
    if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) fail(op, `eps must be a finite number >= 0, got ${eps}`);
    const out = new Float32Array(x.length);
    if (x.length > 0) this.addon.layerNorm(x, gamma, beta, eps, out);
    return out;
  }

  gelu(x: Float32Array): Float32Array {
    checkFloat32('gelu', 'x', x);
    const out = new Float32Array(x.length);
    if (x.length > 0) this.addon.gelu(x, out);
    return out;
  }

  addInPlace(dst: Float32Array, src: Float32Array): void {
    const op = 'addInPlace';
    checkFloat32(op, 'dst', dst);
    checkFloat32(op, 'src', src);
    checkLength(op, 'src', src.length, dst.length);
    if (dst.length > 0) this.addon.addInPlace(dst, src);
  }

  attention(args: AttentionArgs): Float32Array {
    const op = 'attention';
    const { qkv, batch, queryLen, heads, headDim, keyCache, valueCache, capacity, pastLen, mask, slopes } = args;
    checkInteger(op, 'batch', batch, 1);
    checkInteger(op, 'queryLen', queryLen, 1);
    checkInteger(op, 'heads', heads, 1);
    checkInteger(op, 'headDim', headDim, 1);
    checkInteger(op, 'capacity', capacity, 1);
    checkInteger(op, 'pastLen', pastLen, 0);
    const keyLen = pastLen + queryLen;
    if (keyLen > capacity) fail(op, `pastLen + queryLen = ${keyLen} exceeds the cache capacity ${capacity}`);
    checkFloat32(op, 'qkv', qkv);
    checkFloat32(op, 'keyCache', keyCache);
    checkFloat32(op, 'valueCache', valueCache);
    checkFloat32(op, 'slopes', slopes);
    if (!(mask instanceof Uint8Array)) fail(op, 'mask must be a Uint8Array', 'type');
    checkLength(op, 'qkv', qkv.length, batch * queryLen * heads * 3 * headDim);
    checkLength(op, 'keyCache', keyCache.length, batch * heads * capacity * headDim);
    checkLength(op, 'valueCache', valueCache.length, batch * heads * capacity * headDim);
    checkLength(op, 'mask', mask.length, batch * keyLen);
    checkLength(op, 'slopes', slopes.length, heads);
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] > 1) fail(op, `mask[${i}] = ${mask[i]}; the mask holds 0 (padding) or 1 (token)`);
    }
    const context = new Float32Array(batch * queryLen * heads * headDim);
    this.addon.attention(qkv, batch, queryLen, heads, headDim, keyCache, valueCache, capacity, pastLen, mask, slopes, context);
    return context;
  }

  tokenLogProbs(logits: Float32Array, vocab: number, targets: Int32Array): TokenLogProbs {
    const op = 'tokenLogProbs';
    checkFloat32(op, 'logits', logits);
    checkInteger(op, 'vocab', vocab, 1);
    if (!(targets instanceof Int32Array)) fail(op, 'targets must be an Int32Array', 'type');
    checkLength(op, 'logits', logits.length, targets.length * vocab);
    checkIndices(op, 'targets', targets, vocab);
    const logProbs = new Float32Array(targets.length);
    const isGreedy = new Uint8Array(targets.length);
    if (targets.length > 0) this.addon.tokenLogProbs(logits, vocab, targets, logProbs, isGreedy);
    return { logProbs, isGreedy };
  }

  // ---- GradientOps ----

  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, options: { transposeA?: boolean; transposeB?: boolean } = {}): Float32Array {
    const op = 'matmul';
    checkFloat32(op, 'a', a);
    checkFloat32(op, 'b', b);
    checkInteger(op, 'm', m, 0);
    checkInteger(op, 'k', k, 0);
    checkInteger(op, 'n', n, 0);
    if (options === null || typeof options !== 'object') fail(op, 'options must be an object', 'type');
    const transposeA = options.transposeA ?? false;
    const transposeB = options.transposeB ?? false;
    if (typeof transposeA !== 'boolean') fail(op, 'options.transposeA must be a boolean', 'type');
    if (typeof transposeB !== 'boolean') fail(op, 'options.transposeB must be a boolean', 'type');
    checkLength(op, 'a', a.length, m * k);
    checkLength(op, 'b', b.length, k * n);
    const out = new Float32Array(m * n);
    if (m > 0 && n > 0 && k > 0) this.addon.matmul(a, b, m, k, n, transposeA, transposeB, out);
    return out;
  }

  linearBackwardInput(dy: Float32Array, rows: number, weight: Weight): Float32Array {
    const op = 'linearBackwardInput';
    const w = this.anyNativeWeight(op, weight);
    checkFloat32(op, 'dy', dy);
    checkInteger(op, 'rows', rows, 0);
    checkLength(op, 'dy', dy.length, rows * w.outFeatures);
    const out = new Float32Array(rows * w.inFeatures);
    if (rows > 0 && w instanceof NativeNf4Weight) this.addon.nf4LinearBackwardInput(dy, rows, w.handle, out);
    else if (rows > 0) this.addon.linearBackwardInput(dy, rows, w.handle, out);
    return out;
  }

  sumRows(dy: Float32Array, rows: number, cols: number): Float32Array {
    const op = 'sumRows';
    checkFloat32(op, 'dy', dy);
    checkInteger(op, 'rows', rows, 0);
    checkInteger(op, 'cols', cols, 0);
    checkLength(op, 'dy', dy.length, rows * cols);
    const out = new Float32Array(cols);
    if (rows > 0 && cols > 0) this.addon.sumRows(dy, rows, cols, out);
    return out;
  }

  layerNormBackward(x: Float32Array, gamma: Float32Array, dy: Float32Array, eps: number): { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array } {
    const op = 'layerNormBackward';
    checkFloat32(op, 'x', x);
    checkFloat32(op, 'gamma', gamma);
    checkFloat32(op, 'dy', dy);
    if (gamma.length === 0) fail(op, 'gamma is empty');
    if (x.length % gamma.length !== 0) fail(op, `x has ${x.length} values, not a whole number of rows of ${gamma.length}`);
    checkLength(op, 'dy', dy.length, x.length);
    if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) fail(op, `eps must be a finite number >= 0, got ${eps}`);
    const dx = new Float32Array(x.length);
    const dGamma = new Float32Array(gamma.length);
    const dBeta = new Float32Array(gamma.length);
    if (x.length > 0) this.addon.layerNormBackward(x, gamma, dy, eps, dx, dGamma, dBeta);
    return { dx, dGamma, dBeta };
  }

  geluBackward(x: Float32Array, dy: Float32Array): Float32Array {
    const op = 'geluBackward';
    checkFloat32(op, 'x', x);
    checkFloat32(op, 'dy', dy);
    checkLength(op, 'dy', dy.length, x.length);
    const out = new Float32Array(x.length);
    if (x.length > 0) this.addon.geluBackward(x, dy, out);
    return out;
  }

  attentionBackward(args: AttentionArgs, dContext: Float32Array): Float32Array {
    const op = 'attentionBackward';
    const { qkv, batch, queryLen, heads, headDim, keyCache, valueCache, capacity, pastLen, mask, slopes } = args;
    checkInteger(op, 'batch', batch, 1);
    checkInteger(op, 'queryLen', queryLen, 1);
    checkInteger(op, 'heads', heads, 1);
    checkInteger(op, 'headDim', headDim, 1);
    checkInteger(op, 'capacity', capacity, 1);
    checkInteger(op, 'pastLen', pastLen, 0);
    if (pastLen !== 0) fail(op, `pastLen must be 0 (the backward runs without a KV cache), got ${pastLen}`);
    if (capacity !== queryLen) fail(op, `capacity must equal queryLen (${queryLen}) without a KV cache, got ${capacity}`);
    checkFloat32(op, 'qkv', qkv);
    checkFloat32(op, 'keyCache', keyCache);
    checkFloat32(op, 'valueCache', valueCache);
    checkFloat32(op, 'slopes', slopes);
    checkFloat32(op, 'dContext', dContext);
    checkLength(op, 'qkv', qkv.length, batch * queryLen * heads * 3 * headDim);
    checkLength(op, 'keyCache', keyCache.length, batch * heads * capacity * headDim);
    checkLength(op, 'valueCache', valueCache.length, batch * heads * capacity * headDim);
    checkLength(op, 'slopes', slopes.length, heads);
    checkLength(op, 'dContext', dContext.length, batch * queryLen * heads * headDim);
    checkMask(op, mask, batch * queryLen);
    checkDisjoint(op, { keyCache, valueCache, qkv, mask, slopes, dContext });
    const dQkv = new Float32Array(qkv.length);
    this.addon.attentionBackward(qkv, batch, queryLen, heads, headDim, keyCache, valueCache, capacity, mask, slopes, dContext, dQkv);
    return dQkv;
  }

  crossEntropy(logits: Float32Array, vocab: number, targets: Int32Array, scale: number, options: { overwriteLogits?: boolean } = {}): { lossSum: number; counted: number; dLogits: Float32Array } {
    const op = 'crossEntropy';
    checkFloat32(op, 'logits', logits);
    checkInteger(op, 'vocab', vocab, 1);
    if (!(targets instanceof Int32Array)) fail(op, 'targets must be an Int32Array', 'type');
    checkLength(op, 'logits', logits.length, targets.length * vocab);
    checkFinite(op, 'scale', scale);
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      if (t !== -100 && (t < 0 || t >= vocab)) fail(op, `targets[${i}] = ${t} is outside [0, ${vocab}) and not -100 (ignored)`);
    }
    // The kernel reads each row whole before writing that row's gradient, so it may write in place.
    const dLogits = options.overwriteLogits ? logits : new Float32Array(logits.length);
    if (targets.length === 0) return { lossSum: 0, counted: 0, dLogits };
    const [lossSum, counted] = this.addon.crossEntropy(logits, vocab, targets, scale, dLogits);
    return { lossSum, counted, dLogits };
  }

  adamwStep(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    options: { step: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
  ): void {
    const op = 'adamwStep';
    checkFloat32(op, 'param', param);
    checkFloat32(op, 'grad', grad);
    checkFloat32(op, 'm', m);
    checkFloat32(op, 'v', v);
    checkLength(op, 'grad', grad.length, param.length);
    checkLength(op, 'm', m.length, param.length);
    checkLength(op, 'v', v.length, param.length);
    if (options === null || typeof options !== 'object') fail(op, 'options must be an object', 'type');
    const { step, lr, beta1, beta2, eps, weightDecay } = options;
    checkInteger(op, 'options.step', step, 1);
    checkFinite(op, 'options.lr', lr);
    checkFinite(op, 'options.beta1', beta1);
    checkFinite(op, 'options.beta2', beta2);
    checkFinite(op, 'options.eps', eps);
    checkFinite(op, 'options.weightDecay', weightDecay);
    if (!(beta1 >= 0 && beta1 < 1)) fail(op, `options.beta1 must be in [0, 1), got ${beta1}`);
    if (!(beta2 >= 0 && beta2 < 1)) fail(op, `options.beta2 must be in [0, 1), got ${beta2}`);
    checkDisjoint(op, { param, grad, m, v });
    if (param.length > 0) this.addon.adamwStep(param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay);
  }

  /** Measured float32 FMA peak of all threads together (GFLOP/s), the yardstick for linear(). */
  fmaPeakGflops(seconds = 0.5): number {
    return this.addon.fmaPeakGflops(seconds);
  }

  /** Measured bf16 dot-product (vdpbf16ps) peak in GFLOP/s; 0 where the CPU lacks the instruction. */
  bf16DotPeakGflops(seconds = 0.5): number {
    return this.addon.bf16DotPeakGflops(seconds);
  }

  /** OpenMP threads the kernels use: the last setThreads, else OMP_NUM_THREADS, else one per core. */
  threads(): number {
    return this.addon.threads();
  }

  /**
   * Sets the threads the kernels (and oneDNN) use for calls from this JS thread. selectBackend
   * applies `--threads` / TUNELOOP_THREADS through this.
   */
  setThreads(threads: number): void {
    checkInteger('setThreads', 'threads', threads, 1);
    this.addon.setThreads(threads);
  }

  /** The kernels' ISA and the bf16 matmul path chosen at run time on this machine. */
  capabilities(): NativeCapabilities {
    return this.addon.capabilities();
  }

  private anyNativeWeight(op: string, weight: Weight): NativeWeight | NativeNf4Weight {
    if (!(weight instanceof NativeWeight) && !(weight instanceof NativeNf4Weight)) {
      fail(op, 'weight was not prepared by the native backend; prepare it with this backend', 'type');
    }
    return weight;
  }
}

/** Where the addon is looked for: TUNELOOP_NATIVE_ADDON, else build/Release under the package root. */
function addonCandidates(): string[] {
  const override = process.env.TUNELOOP_NATIVE_ADDON;
  if (override) return [resolve(override)];
  // This module runs from src/engine/backends (tests via a loader) or dist/src/engine/backends.
  const candidates: string[] = [];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    candidates.push(join(dir, ADDON_FILE));
    dir = dirname(dir);
  }
  return candidates;
}

let loaded: NativeBackend | undefined;

/**
 * Makes idle OpenMP threads sleep at once instead of spinning (libgomp spins ~300000 times by
 * default) unless the user chose a wait policy or spin count. On a machine whose cores are busy
 * with other work, a spinning thread holds the core its descheduled teammate needs to finish the
 * parallel region, and decoding ran 6-30x slower than on one thread. libgomp reads these
 * variables once, when it is loaded with the addon, so they must be in the C environment before
 * that (assigning to process.env sets it).
 */
function applyOpenMpWaitDefaults(): void {
  if (!process.env.OMP_WAIT_POLICY && !process.env.GOMP_SPINCOUNT) process.env.OMP_WAIT_POLICY = 'PASSIVE';
}

/**
 * Loads the addon and returns the native backend (one shared instance). Throws
 * BackendUnavailableError saying why when the addon is not built or cannot load here, so a
 * selector can fall back to the TypeScript backend.
 */
export function loadNativeBackend(): NativeBackend {
  if (loaded) return loaded;
  const candidates = addonCandidates();
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path) {
    throw new BackendUnavailableError(
      `the native addon is not built (looked for ${candidates[0]}); build it with \`node scripts/build-native.mjs\` (needs libdnnl-dev and a C++ compiler)`,
    );
  }
  applyOpenMpWaitDefaults();
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (cause) {
    throw new BackendUnavailableError(`the native addon at ${path} failed to load: ${(cause as Error).message}`, { cause });
  }
  loaded = new NativeBackend(addon);
  return loaded;
}
