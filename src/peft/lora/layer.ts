import type { Backend, Weight } from '../../engine/backend.js';
import { asTrainingBackend } from '../../engine/training-backend.js';
import { InvalidInputError } from '../../errors.js';

/** Output rows of the frozen weight materialised at once when DoRA measures row norms (bounds memory). */
const NORM_ROWS_PER_CHUNK = 256;

/**
 * One LoRA pair on a frozen linear: y += scaling · (x · Aᵀ) · Bᵀ with A `[r, in]` and B `[out, r]`.
 * B's rows follow the base layer's output layout (for query_key_value, BLOOM's per-head q, k, v).
 *
 * With a magnitude vector m `[out]` it is DoRA (peft's `use_dora`): the adapted weight W + s·B·A is
 * renormalised per output row to length m, y = x·(m/‖W + s·B·A‖_row ⊙ (W + s·B·A))ᵀ + bias, the norm
 * treated as a constant in training (peft detaches it, following section 4.3 of the DoRA paper).
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
    /** DoRA's magnitude m, `[out]`; undefined for plain LoRA. */
    readonly magnitude?: Float32Array,
  ) {}

  /**
   * Adds this layer's update to y `[rows, out]` in place. Plain matmuls on A and B as they are now:
   * nothing is packed or cached, so training may update them in place between calls.
   */
  apply(backend: Backend, x: Float32Array, rows: number, y: Float32Array): void {
    const up = this.scaledUpdate(backend, x, rows);
    for (let i = 0; i < y.length; i++) y[i] += up[i];
  }

  /** s·(x·Aᵀ)·Bᵀ, `[rows, out]`. */
  scaledUpdate(backend: Backend, x: Float32Array, rows: number): Float32Array {
    const ops = asTrainingBackend(backend);
    const down = ops.matmul(x, this.a, rows, this.inFeatures, this.r, { transposeB: true });
    const up = ops.matmul(down, this.b, rows, this.r, this.outFeatures, { transposeB: true });
    for (let i = 0; i < up.length; i++) up[i] *= this.scaling;
    return up;
  }

  /**
   * DoRA's output from the base layer's y = x·Wᵀ + bias `[rows, out]`, in place:
   * y += (k − 1)⊙(y − bias) + k⊙s·B·A·x with k = `rowScale` (m/‖W + s·B·A‖_row), as peft ≥ 0.14 reuses
   * the base result when no dropout applies.
   */
  applyDora(backend: Backend, x: Float32Array, rows: number, y: Float32Array, bias: Float32Array | null, rowScale: Float32Array): void {
    const up = this.scaledUpdate(backend, x, rows);
    const out = this.outFeatures;
    for (let row = 0; row < rows; row++) {
      for (let o = 0; o < out; o++) {
        const i = row * out + o;
        const k = rowScale[o];
        y[i] += (k - 1) * (y[i] - (bias ? bias[o] : 0)) + k * up[i];
      }
    }
  }

  /**
   * ‖W + s·B·A‖ per output row, `[out]`, with W the frozen weight as the backend computes with it (read
   * back row by row through `embedding`, so bf16 rounding and NF4 dequantisation are those of the
   * forward). Each row's sum of squares accumulates in float64 over float32 elements, as peft adds in
   * the weight's dtype before `linalg.norm`.
   */
  weightRowNorms(backend: Backend, weight: Weight): Float32Array {
    const ops = asTrainingBackend(backend);
    const { r, inFeatures, outFeatures } = this;
    const norms = new Float32Array(outFeatures);
    for (let start = 0; start < outFeatures; start += NORM_ROWS_PER_CHUNK) {
      const count = Math.min(NORM_ROWS_PER_CHUNK, outFeatures - start);
      const ids = Int32Array.from({ length: count }, (_, i) => start + i);
      const w = backend.embedding(weight, ids);
      const ba = ops.matmul(this.b.subarray(start * r, (start + count) * r), this.a, count, r, inFeatures);
      for (let o = 0; o < count; o++) {
        let sum = 0;
        for (let i = o * inFeatures; i < (o + 1) * inFeatures; i++) {
          const v = Math.fround(w[i] + Math.fround(this.scaling * ba[i]));
          sum += v * v;
        }
        norms[start + o] = Math.sqrt(sum);
      }
    }
    return norms;
  }

  /** DoRA's per-row factor m/‖W + s·B·A‖_row, `[out]`. */
  doraRowScale(backend: Backend, weight: Weight): Float32Array {
    const magnitude = this.requireMagnitude();
    const norms = this.weightRowNorms(backend, weight);
    return norms.map((norm, o) => magnitude[o] / norm);
  }

  /**
   * Merges this layer into the frozen weight `values` `[out, in]` in place, as peft's merge: W + s·B·A,
   * and for DoRA each row then scaled by m/‖W + s·B·A‖_row (the norm of these same values).
   */
  mergeInto(values: Float32Array): void {
    const delta = this.delta();
    for (let i = 0; i < values.length; i++) values[i] += delta[i];
    if (!this.magnitude) return;
    const { inFeatures } = this;
    for (let o = 0; o < this.outFeatures; o++) {
      const row = values.subarray(o * inFeatures, (o + 1) * inFeatures);
      let sum = 0;
      for (const v of row) sum += v * v;
      const factor = this.magnitude[o] / Math.fround(Math.sqrt(sum));
      for (let i = 0; i < row.length; i++) row[i] *= factor;
    }
  }

  private requireMagnitude(): Float32Array {
    if (!this.magnitude) throw new InvalidInputError('use_dora', 'this LoRA layer has no magnitude vector, so it is not a DoRA layer');
    return this.magnitude;
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
