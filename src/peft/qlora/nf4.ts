/**
 * NF4 (4-bit NormalFloat) quantisation as bitsandbytes does it for QLoRA (`quantize_4bit(...,
 * quant_type='nf4')` and `dequantize_4bit`), with optional double quantisation of the block scales
 * (`compress_statistics=True`). Read against bitsandbytes' reference ("default" backend) ops in
 * bitsandbytes/backends/default/ops.py and bitsandbytes/functional.py:
 *
 * - The tensor is flattened (row-major) and cut into blocks of 64 values; the last block may be short.
 * - Each block's absmax = max |x| (float32). Values are scaled by the float32 reciprocal
 *   `x * (1 / max(absmax, 1e-38))`, clamped to [-1, 1].
 * - The code index is `bucketize(scaled, midpoints)` with float32 midpoints `(code[i] + code[i+1]) / 2`
 *   of the sorted NF4 code book: the number of midpoints strictly below the value, so a value exactly
 *   on a midpoint takes the LOWER code (the CUDA kernel's `x > threshold` tree agrees).
 * - Codes are packed two per byte, the first element in the HIGH nibble (`q[0::2] << 4 | q[1::2]`);
 *   an odd count is padded with a scaled 0 (code 7) in the last low nibble.
 * - Dequantisation is `code[q] * absmax` in float32.
 * - Double quantisation: offset = mean(absmax) (float32); `absmax - offset` is quantised blockwise
 *   (blocks of 256) with the signed 8-bit dynamic map (`create_dynamic_map(signed=True)`), the same
 *   scale/clamp/bucketize rule, and one float32 absmax per 256-block. The block scale is recovered as
 *   `dynamic[q] * absmax2 + offset` in float32.
 *
 * Two documented approximations of PyTorch arithmetic (neither changes the algorithm; each could move a
 * value by one float32 ulp and so flip a decision only for an input within an ulp of a midpoint):
 * the mean is summed in float64 and rounded once to float32 (PyTorch sums float32 in cascaded float32),
 * and the dynamic map's `torch.linspace` is evaluated with ATen's scalar formula (its vectorised path
 * groups some elements differently).
 */

/** The 16 NF4 values, as bitsandbytes hard-codes them (`get_4bit_type('nf4')`), sorted. */
export const NF4_CODE: Float32Array = Float32Array.of(
  -1.0,
  -0.6961928009986877,
  -0.5250730514526367,
  -0.39491748809814453,
  -0.28444138169288635,
  -0.18477343022823334,
  -0.09105003625154495,
  0.0,
  0.07958029955625534,
  0.16093020141124725,
  0.24611230194568634,
  0.33791524171829224,
  0.44070982933044434,
  0.5626170039176941,
  0.7229568362236023,
  1.0,
);

/** QLoRA's block size for the 4-bit codes (bitsandbytes' default for quantize_4bit). */
export const NF4_BLOCK_SIZE = 64;
/** Block size of the second-level quantisation of the absmax values (bitsandbytes: 256). */
export const DOUBLE_QUANT_BLOCK_SIZE = 256;

/** Block scales stored as 8-bit codes of the dynamic map (double quantisation). */
export interface Nf4DoubleQuantAbsmax {
  /** One 8-bit code per 64-block: an index into `code`. */
  readonly quantized: Uint8Array;
  /** The 256-entry dynamic map (`create_dynamic_map(signed=True)`). */
  readonly code: Float32Array;
  /** float32 absmax of each 256-block of (absmax − offset). */
  readonly absmax2: Float32Array;
  /** The mean of the absmax values, subtracted before quantising them (float32). */
  readonly offset: number;
}

export interface Nf4Tensor {
  /** ceil(n / 2) bytes: element 2i in the high nibble of byte i, element 2i+1 in the low nibble. */
  readonly packed: Uint8Array;
  /** One float32 absmax per block, or their double-quantised form. */
  readonly absmax: Float32Array | Nf4DoubleQuantAbsmax;
  readonly shape: readonly number[];
  readonly blockSize: number;
}

export interface Nf4QuantizeOptions {
  /** Only 64 (QLoRA's) is supported: the native kernels assume it. */
  readonly blockSize?: 64;
  /** Quantise the block scales too (bitsandbytes' compress_statistics). Default false. */
  readonly doubleQuant?: boolean;
  /** Shape recorded on the result; default [values.length]. Its product must equal values.length. */
  readonly shape?: readonly number[];
}

const fround = Math.fround;
/** torch's `absmax.clamp(min=1e-38)` on a float32 tensor. */
const MIN_ABSMAX = fround(1e-38);

/** float32 midpoints (code[i] + code[i+1]) / 2 of a sorted code book. */
function midpoints(code: Float32Array): Float32Array {
  const bounds = new Float32Array(code.length - 1);
  for (let i = 0; i < bounds.length; i++) bounds[i] = fround(code[i] + code[i + 1]) / 2;
  return bounds;
}

const NF4_BOUNDS = midpoints(NF4_CODE);

/** torch.linspace(start, end, steps, dtype=float32), by ATen's scalar CPU formula. */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const s = fround(start);
  const e = fround(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = fround(fround(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? fround(s + fround(step * i)) : fround(e - fround(step * (steps - i - 1)));
  return out;
}

/**
 * bitsandbytes' `create_dynamic_map(signed, max_exponent_bits, total_bits)`: for each exponent
 * i = 0 .. max_exponent_bits−1, the midpoints of `linspace(0.1, 1, fraction_items)` scaled by
 * 10^(i − (max_exponent_bits − 1)) (and negated when signed), then 0 and 1, zero-padded to 256 and sorted.
 */
export function createDynamicMap(signed = true, maxExponentBits = 7, totalBits = 8): Float32Array {
  const data: number[] = [];
  const nonSignBits = totalBits - 1;
  const additionalItems = 2 ** (nonSignBits - maxExponentBits) - 1;
  const scale = (i: number) => fround(Number(`1e${-(maxExponentBits - 1) + i}`));
  const addMeans = (items: number, i: number) => {
    const boundaries = linspaceF32(0.1, 1, items);
    for (let j = 0; j + 1 < boundaries.length; j++) {
      const mean = fround(boundaries[j] + boundaries[j + 1]) / 2;
      data.push(fround(scale(i) * mean));
      if (signed) data.push(fround(-scale(i) * mean));
    }
  };
  let i = 0;
  for (i = 0; i < maxExponentBits; i++) {
    const fractionItems = signed ? 2 ** (i + nonSignBits - maxExponentBits) + 1 : 2 ** (i + nonSignBits - maxExponentBits + 1) + 1;
    addMeans(fractionItems, i);
  }
  if (additionalItems > 0) addMeans(additionalItems + 1, i - 1);
  data.push(0, 1);
  if (data.length !== 2 ** totalBits) throw new RangeError(`dynamic map has ${data.length} values, expected ${2 ** totalBits}`);
  while (data.length < 256) data.push(0);
  data.sort((a, b) => a - b);
  return Float32Array.from(data);
}

let dynamicMap: Float32Array | undefined;
let dynamicBounds: Float32Array | undefined;

/** The signed 8-bit dynamic map (cached; callers must not modify it). */
export function signedDynamicMap(): Float32Array {
  dynamicMap ??= createDynamicMap(true);
  return dynamicMap;
}

/** Index of the bucket of `v`: the number of `bounds` strictly below v (torch.bucketize, right=False). */
function bucketize(v: number, bounds: Float32Array): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bounds[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A block's float32 scale factor 1 / max(absmax, 1e-38). */
function inverseScale(absmax: number): number {
  return fround(1 / Math.max(absmax, MIN_ABSMAX));
}

function blockAbsmax(values: Float32Array, start: number, end: number): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(values[i]);
    if (a > m) m = a;
  }
  return m;
}

/** bitsandbytes' `quantize_blockwise`: 8-bit codes of `code` and one float32 absmax per block. */
export function quantizeBlockwise(values: Float32Array, code: Float32Array, blockSize: number): { quantized: Uint8Array; absmax: Float32Array } {
  const bounds = code === dynamicMap ? (dynamicBounds ??= midpoints(code)) : midpoints(code);
  const blocks = Math.ceil(values.length / blockSize);
  const absmax = new Float32Array(blocks);
  const quantized = new Uint8Array(values.length);
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, values.length);
    const am = blockAbsmax(values, start, end);
    absmax[b] = am;
    const inv = inverseScale(am);
    for (let i = start; i < end; i++) {
      const scaled = Math.min(1, Math.max(-1, fround(values[i] * inv)));
      quantized[i] = bucketize(scaled, bounds);
    }
  }
  return { quantized, absmax };
}

/** bitsandbytes' `dequantize_blockwise`: code[q] · absmax in float32. */
export function dequantizeBlockwise(quantized: Uint8Array, absmax: Float32Array, code: Float32Array, blockSize: number): Float32Array {
  const out = new Float32Array(quantized.length);
  for (let i = 0; i < quantized.length; i++) out[i] = code[quantized[i]] * absmax[Math.floor(i / blockSize)];
  return out;
}

/** NF4 code index of a value already scaled into [-1, 1] (an unrolled bucketize over 15 midpoints). */
function nf4Index(scaled: number): number {
  const b = NF4_BOUNDS;
  let q = b[7] < scaled ? 8 : 0;
  if (b[q + 3] < scaled) q += 4;
  if (b[q + 1] < scaled) q += 2;
  if (b[q] < scaled) q += 1;
  return q;
}

/** Quantises `values` (row-major) to NF4 as bitsandbytes' quantize_4bit(quant_type='nf4'). */
export function quantizeNf4(values: Float32Array, options: Nf4QuantizeOptions = {}): Nf4Tensor {
  const blockSize = options.blockSize ?? NF4_BLOCK_SIZE;
  if (blockSize !== NF4_BLOCK_SIZE) throw new RangeError(`quantizeNf4: blockSize must be ${NF4_BLOCK_SIZE}, got ${String(blockSize)}`);
  const shape = options.shape ?? [values.length];
  if (shape.reduce((a, d) => a * d, 1) !== values.length) {
    throw new RangeError(`quantizeNf4: shape [${shape.join(', ')}] does not hold ${values.length} values`);
  }
  const n = values.length;
  const blocks = Math.ceil(n / blockSize);
  const absmax = new Float32Array(blocks);
  const packed = new Uint8Array(Math.ceil(n / 2));
  // Code 7 (0.0) is what a padding zero quantises to; it fills the low nibble of an odd count's last byte.
  if (n % 2 === 1) packed[packed.length - 1] = 7;
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, n);
    const am = blockAbsmax(values, start, end);
    absmax[b] = am;
    const inv = inverseScale(am);
    for (let i = start; i < end; i++) {
      const q = nf4Index(Math.min(1, Math.max(-1, fround(values[i] * inv))));
      if ((i & 1) === 0) packed[i >> 1] = (q << 4) | (packed[i >> 1] & 0x0f);
      else packed[i >> 1] = (packed[i >> 1] & 0xf0) | q;
    }
  }
  if (!options.doubleQuant) return { packed, absmax, shape: [...shape], blockSize };
  return { packed, absmax: doubleQuantize(absmax), shape: [...shape], blockSize };
}

/** Second-level quantisation of the block scales (compress_statistics=True). */
export function doubleQuantize(absmax: Float32Array): Nf4DoubleQuantAbsmax {
  let sum = 0;
  for (let i = 0; i < absmax.length; i++) sum += absmax[i];
  const offset = fround(absmax.length > 0 ? sum / absmax.length : 0);
  const centered = new Float32Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) centered[i] = absmax[i] - offset;
  const code = signedDynamicMap();
  const { quantized, absmax: absmax2 } = quantizeBlockwise(centered, code, DOUBLE_QUANT_BLOCK_SIZE);
  return { quantized, code, absmax2, offset };
}

/** The float32 block scales of an NF4 tensor (dequantising them when double-quantised). */
export function nf4BlockAbsmax(t: Pick<Nf4Tensor, 'absmax'>): Float32Array {
  if (t.absmax instanceof Float32Array) return t.absmax;
  const { quantized, code, absmax2, offset } = t.absmax;
  const out = dequantizeBlockwise(quantized, absmax2, code, DOUBLE_QUANT_BLOCK_SIZE);
  for (let i = 0; i < out.length; i++) out[i] = out[i] + offset;
  return out;
}

/** Number of values an NF4 tensor holds. */
export function nf4Numel(t: Pick<Nf4Tensor, 'shape'>): number {
  return t.shape.reduce((a, d) => a * d, 1);
}

/** Bytes of storage: packed codes plus the scales (the dynamic map's 1 KiB included when present). */
export function nf4Bytes(t: Nf4Tensor): number {
  if (t.absmax instanceof Float32Array) return t.packed.byteLength + t.absmax.byteLength;
  return t.packed.byteLength + t.absmax.quantized.byteLength + t.absmax.absmax2.byteLength + t.absmax.code.byteLength + 4;
}

/** Dequantises elements [start, start + count) of `t` into `out` (float32), with resolved block scales. */
export function dequantizeNf4Range(t: Nf4Tensor, absmax: Float32Array, start: number, count: number, out: Float32Array, outOffset = 0): void {
  const { packed, blockSize } = t;
  for (let j = 0; j < count; j++) {
    const i = start + j;
    const byte = packed[i >> 1];
    const q = (i & 1) === 0 ? byte >> 4 : byte & 0x0f;
    out[outOffset + j] = NF4_CODE[q] * absmax[Math.floor(i / blockSize)];
  }
}

/** bitsandbytes' dequantize_4bit (nf4) to float32. */
export function dequantizeNf4(t: Nf4Tensor): Float32Array {
  const n = nf4Numel(t);
  const out = new Float32Array(n);
  dequantizeNf4Range(t, nf4BlockAbsmax(t), 0, n, out);
  return out;
}
