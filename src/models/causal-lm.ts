import type { Backend } from '../engine/backend.js';
import type { BloomConfig } from './bloom/config.js';
import type { KvCache } from './bloom/kv-cache.js';
import type { ForwardInput, ForwardOutput } from './bloom/model.js';

/**
 * What generation and scoring need from a model: the base BLOOM model, or one wrapped by an adapter
 * that changes its inputs (prompt tuning). `forward` returns hidden states for the caller's positions.
 */
export interface CausalLM {
  readonly config: BloomConfig;
  readonly backend: Backend;
  forward(input: ForwardInput): ForwardOutput;
  /** lm_head over `rows` hidden states. */
  logits(hidden: Float32Array, rows: number): Float32Array;
  /** A KV cache with room for `capacity` of the caller's positions per row. */
  createCache(batch: number, capacity: number): KvCache;
}
