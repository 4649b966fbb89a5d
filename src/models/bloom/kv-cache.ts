import type { BloomConfig } from './config.js';

/**
 * Keys and values of every layer for a batch, preallocated for `capacity` positions so decoding appends
 * without copying. Layout per layer: `[batch, heads, capacity, headDim]`.
 */
export class KvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  /** Positions filled so far (the same for every row: padded rows carry their padding). */
  length = 0;

  constructor(
    config: BloomConfig,
    readonly batch: number,
    readonly capacity: number,
  ) {
    const size = batch * config.numHeads * capacity * config.headDim;
    this.keys = Array.from({ length: config.numLayers }, () => new Float32Array(size));
    this.values = Array.from({ length: config.numLayers }, () => new Float32Array(size));
  }
}
