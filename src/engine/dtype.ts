/**
 * Element types a tensor may hold, and exact conversions between them.
 *
 * BF16 and F16 values are stored as raw 16-bit patterns in a Uint16Array; arithmetic always happens in
 * float32. Rounding from float32 to bf16 is round-to-nearest-even, as PyTorch and oneDNN do.
 */
export type DType = 'f32' | 'bf16' | 'f16';

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = { f32: 4, bf16: 2, f16: 2 };

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function bf16ToF32(bits: number): number {
  u32Scratch[0] = bits << 16;
  return f32Scratch[0];
}

export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40; // keep NaN a quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Converts a block of bf16 bit patterns to float32 (into `out` when given). */
export function bf16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) outBits[i] = src[i] << 16;
  return out;
}

export function f32ArrayToBf16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

export function f16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) out[i] = f16ToF32(src[i]);
  return out;
}

/** Rounds every float32 in place to the nearest bf16 value (used to emulate bf16 weights in f32). */
export function roundToBf16InPlace(data: Float32Array): void {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) continue;
    bits[i] = (((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff) << 16;
  }
}
