import type { Backend } from '../../engine/backend.js';
import { asTrainingBackend } from '../../engine/training-backend.js';

/**
 * One LoRA pair on a frozen linear: y += scaling · (x · Aᵀ) · Bᵀ with A `[r, in]` and B `[out, r]`.
 * B's rows follow the base layer's output layout (for query_key_value, BLOOM's per-head q, k, v).
 */
export class LoraLayer {
  constructor(
    readonly r: number,
    readonly inFeatures: number,
    readonly outFeatures: number,
    /** `[r, in]` */
    readonly a: Float32Array,
    /** `[out, r]` */
    readonly b: Float32Array,
    readonly scaling: number,
  ) {}

  /**
   * Adds this layer's update to y `[rows, out]` in place. Plain matmuls on A and B as they are now:
   * nothing is packed or cached, so training may update them in place between calls.
   */
  apply(backend: Backend, x: Float32Array, rows: number, y: Float32Array): void {
    const ops = asTrainingBackend(backend);
    const down = ops.matmul(x, this.a, rows, this.inFeatures, this.r, { transposeB: true });
    const up = ops.matmul(down, this.b, rows, this.r, this.outFeatures, { transposeB: true });
    for (let i = 0; i < y.length; i++) y[i] += this.scaling * up[i];
  }

  /** scaling · B · A, `[out, in]`: the update merging adds to the frozen weight. Accumulates in float64. */
  delta(): Float32Array {
    const { r, inFeatures, outFeatures } = this;
    const out = new Float32Array(outFeatures * inFeatures);
    for (let o = 0; o < outFeatures; o++) {
      for (let i = 0; i < inFeatures; i++) {
        let sum = 0;
        for (let k = 0; k < r; k++) sum += this.b[o * r + k] * this.a[k * inFeatures + i];
        out[o * inFeatures + i] = this.scaling * sum;
      }
    }
    return out;
  }
}
