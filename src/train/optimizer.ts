import type { GradientOps } from '../engine/gradients.js';
import { InvalidInputError } from '../errors.js';

export interface AdamWOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** Optimiser state that a checkpoint saves and a resumed run restores. */
export interface AdamWState {
  readonly step: number;
  readonly moments: Map<string, { m: Float32Array; v: Float32Array }>;
}

/**
 * torch.optim.AdamW over named float32 parameters (the trained tensors are always float32: they are
 * the master copies even when the frozen model computes in bf16). Updates happen in place.
 */
export class AdamW {
  private stepCount = 0;
  private readonly moments = new Map<string, { m: Float32Array; v: Float32Array }>();

  constructor(
    private readonly ops: GradientOps,
    readonly parameters: ReadonlyMap<string, Float32Array>,
    readonly options: AdamWOptions = ADAMW_DEFAULTS,
  ) {
    for (const [name, p] of parameters) this.moments.set(name, { m: new Float32Array(p.length), v: new Float32Array(p.length) });
  }

  get step(): number {
    return this.stepCount;
  }

  /** One update of every parameter with a gradient; `lr` overrides the base rate (for schedules). */
  update(grads: ReadonlyMap<string, Float32Array>, lr = this.options.lr): void {
    this.stepCount++;
    for (const [name, param] of this.parameters) {
      const grad = grads.get(name);
      if (!grad) continue;
      if (grad.length !== param.length) throw new InvalidInputError(`grads.${name}`, `has ${grad.length} values, the parameter ${param.length}`);
      const { m, v } = this.moments.get(name)!;
      this.ops.adamwStep(param, grad, m, v, { ...this.options, lr, step: this.stepCount });
    }
  }

  state(): AdamWState {
    return { step: this.stepCount, moments: this.moments };
  }

  restore(state: AdamWState): void {
    for (const [name, { m, v }] of state.moments) {
      const own = this.moments.get(name);
      if (!own || own.m.length !== m.length) throw new InvalidInputError('optimizer state', `does not match parameter "${name}": the checkpoint belongs to another run`);
      own.m.set(m);
      own.v.set(v);
    }
    this.stepCount = state.step;
  }
}

/**
 * Scales gradients so their global L2 norm is at most `maxNorm`, as torch.nn.utils.clip_grad_norm_.
 * Returns the norm before clipping.
 */
export function clipGradNorm(grads: ReadonlyMap<string, Float32Array>, maxNorm: number): number {
  let sumSquares = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  const norm = Math.sqrt(sumSquares);
  const coefficient = maxNorm / (norm + 1e-6);
  if (coefficient < 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= coefficient;
  return norm;
}
