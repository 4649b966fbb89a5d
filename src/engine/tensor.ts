import type { DType } from './dtype.js';

/** Storage for one tensor: float32 values, or raw bf16/f16 bit patterns. */
export type TensorData = Float32Array | Uint16Array;

/** A dense, row-major (C-order) tensor. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function f32Tensor(shape: readonly number[], data: Float32Array = new Float32Array(numel(shape))): Tensor {
  if (data.length !== numel(shape)) {
    throw new RangeError(`tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${numel(shape)}`);
  }
  return { dtype: 'f32', shape, data };
}
