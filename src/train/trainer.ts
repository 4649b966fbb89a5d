import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { SeededRandom } from '../inference/sampling.js';
import type { BloomModel } from '../models/bloom/model.js';
import { type StepResult, type Trainables, type TrainingBatch, forwardBackward } from './bloom-backward.js';
import { type TrainerState, latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { ADAMW_DEFAULTS, AdamW, type AdamWOptions, clipGradNorm } from './optimizer.js';
import { type ScheduleKind, learningRate } from './schedule.js';
import { trainableParameters } from './trainable-parameters.js';
import { asTrainingBackend } from '../engine/training-backend.js';

export interface TrainerOptions {
  readonly model: BloomModel;
  readonly trainables: Trainables;
  /** One epoch of micro-batches; their order is reshuffled each epoch from the seed. */
  readonly trainBatches: readonly TrainingBatch[];
  readonly validationBatches?: readonly TrainingBatch[];
  readonly epochs: number;
  /** Stop after this many optimiser steps even if epochs remain. */
  readonly maxSteps?: number;
  readonly gradientAccumulation?: number;
  /** Recompute block activations in backward instead of keeping them (see ForwardBackwardOptions). */
  readonly gradientCheckpointing?: boolean;
  readonly maxGradNorm?: number;
  readonly adamw?: Partial<AdamWOptions>;
  readonly schedule?: { readonly kind: ScheduleKind; readonly warmupSteps: number };
  readonly evalEvery?: number;
  /** Stop when validation loss has not improved for this many evaluations. */
  readonly earlyStoppingPatience?: number;
  readonly checkpointEvery?: number;
  /** Where checkpoints (checkpoints/step-N), the JSONL log and the best parameters go. */
  readonly outputDir: string;
  readonly seed: number;
  /** Continue from the newest checkpoint in outputDir when there is one (default true). */
  readonly resume?: boolean;
  readonly onStep?: (event: StepEvent) => void;
}

export interface StepEvent {
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly tokensPerSecond: number;
  readonly validationLoss?: number;
}

export interface TrainingSummary {
  readonly steps: number;
  readonly resumedFrom: number | null;
  readonly finalLoss: number;
  readonly bestValidationLoss: number | null;
  readonly bestStep: number | null;
  readonly stoppedEarly: boolean;
  readonly seconds: number;
  readonly tokens: number;
}

/** The order of an epoch's batches: a seeded Fisher-Yates shuffle, the same on every run. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const random = new SeededRandom(seed * 1000003 + epoch);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * The training loop: gradient accumulation, clipping, AdamW with a warmup schedule, evaluation with
 * early stopping (the best parameters restored at the end), JSONL logs, and checkpoints from which a
 * killed run resumes to the same final weights as an uninterrupted one (everything that decides the
 * next step — parameters, optimiser moments, step and batch counters — is in the checkpoint, and the
 * batch order is a function of the seed and epoch).
 */
export function train(options: TrainerOptions): TrainingSummary {
  const { model, trainables, trainBatches, outputDir, seed } = options;
  const backend = asTrainingBackend(model.backend);
  if (trainBatches.length === 0) throw new InvalidInputError('trainBatches', 'is empty: nothing to train on');
  const accumulation = options.gradientAccumulation ?? 1;
  const stepsPerEpoch = Math.ceil(trainBatches.length / accumulation);
  const totalSteps = Math.min(options.maxSteps ?? Infinity, stepsPerEpoch * options.epochs);
  const adamw: AdamWOptions = { ...ADAMW_DEFAULTS, ...options.adamw };
  const schedule = { kind: options.schedule?.kind ?? 'linear', baseLr: adamw.lr, warmupSteps: options.schedule?.warmupSteps ?? 0, totalSteps };
  const parameters = trainableParameters(trainables);
  const optimizer = new AdamW(backend, parameters, adamw);
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ params: [...parameters].map(([n, p]) => [n, p.length]), seed, accumulation, totalSteps, adamw, schedule, batches: trainBatches.length }))
    .digest('hex')
    .slice(0, 16);

  mkdirSync(outputDir, { recursive: true });
  const checkpointRoot = join(outputDir, 'checkpoints');
  const logPath = join(outputDir, 'train_log.jsonl');
  const log = (record: Record<string, unknown>) => appendFileSync(logPath, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);

  let state: TrainerState = { step: 0, microBatches: 0, bestValidationLoss: null, bestStep: null, evaluationsWithoutImprovement: 0, configFingerprint: fingerprint };
  let resumedFrom: number | null = null;
  const resumeDir = options.resume === false ? undefined : latestCheckpoint(checkpointRoot);
  if (resumeDir) {
    const restored = loadCheckpoint(resumeDir, parameters);
    if (restored.state.configFingerprint !== fingerprint) {
      throw new InvalidInputError('resume', `${resumeDir} was written by a run with another configuration; use a new output directory or remove it`);
    }
    optimizer.restore(restored.optimizer);
    trainables.selective?.sync();
    state = restored.state;
    resumedFrom = state.step;
    log({ event: 'resume', step: state.step, checkpoint: resumeDir });
  }
  const started = performance.now();
  let tokens = 0;
  let lastLoss = NaN;
  let stoppedEarly = false;
  const validate = (): number => {
    let lossSum = 0;
    let counted = 0;
    for (const batch of options.validationBatches ?? []) {
      const result = forwardBackward(model, batch, trainables, { gradients: false });
      lossSum += result.loss * result.counted;
      counted += result.counted;
    }
    return lossSum / counted;
  };

  while (state.step < totalSteps) {
    const grads = new Map<string, Float32Array>();
    let lossSum = 0;
    let counted = 0;
    const stepStarted = performance.now();
    let stepTokens = 0;
    for (let micro = 0; micro < accumulation; micro++) {
      const epoch = Math.floor(state.microBatches / trainBatches.length);
      const position = state.microBatches % trainBatches.length;
      const batch = trainBatches[epochOrder(trainBatches.length, seed, epoch)[position]];
      // Dropout masks follow from the seed and the micro-batch's index, so a resumed run draws the same ones.
      const result: StepResult = forwardBackward(model, batch, trainables, {
        dropoutSeed: seed * 1000003 + state.microBatches,
        gradientCheckpointing: options.gradientCheckpointing,
      });
      state = { ...state, microBatches: state.microBatches + 1 };
      for (const [name, g] of result.grads) {
        const sum = grads.get(name);
        if (!sum) grads.set(name, g.map((x) => x / accumulation));
        else for (let i = 0; i < g.length; i++) sum[i] += g[i] / accumulation;
      }
      lossSum += result.loss;
      counted++;
      for (let i = 0; i < batch.mask.length; i++) stepTokens += batch.mask[i];
      if (position === trainBatches.length - 1 && micro < accumulation - 1) break;
    }
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= accumulation / counted;
    const gradNorm = options.maxGradNorm ? clipGradNorm(grads, options.maxGradNorm) : Math.sqrt([...grads.values()].reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
    const lr = learningRate(schedule, state.step);
    optimizer.update(grads, lr);
    trainables.selective?.sync();
    state = { ...state, step: state.step + 1 };
    lastLoss = lossSum / counted;
    tokens += stepTokens;
    const tokensPerSecond = (stepTokens / (performance.now() - stepStarted)) * 1000;

    let validationLoss: number | undefined;
    if (options.validationBatches?.length && options.evalEvery && (state.step % options.evalEvery === 0 || state.step === totalSteps)) {
      validationLoss = validate();
      if (state.bestValidationLoss === null || validationLoss < state.bestValidationLoss) {
        state = { ...state, bestValidationLoss: validationLoss, bestStep: state.step, evaluationsWithoutImprovement: 0 };
        saveCheckpoint(join(outputDir, 'best'), parameters, optimizer.state(), state);
      } else {
        state = { ...state, evaluationsWithoutImprovement: state.evaluationsWithoutImprovement + 1 };
      }
    }
    log({ event: 'step', step: state.step, loss: lastLoss, lr, grad_norm: gradNorm, tokens_per_second: tokensPerSecond, ...(validationLoss !== undefined ? { validation_loss: validationLoss } : {}) });
    options.onStep?.({ step: state.step, totalSteps, loss: lastLoss, lr, gradNorm, tokensPerSecond, validationLoss });
    if (options.checkpointEvery && state.step % options.checkpointEvery === 0) {
      saveCheckpoint(join(checkpointRoot, `step-${state.step}`), parameters, optimizer.state(), state);
      // Keep only the newest checkpoint besides `best`: resume needs no more.
      const previous = state.step - options.checkpointEvery;
      if (previous > 0) rmSync(join(checkpointRoot, `step-${previous}`), { recursive: true, force: true });
    }
    if (options.earlyStoppingPatience !== undefined && state.evaluationsWithoutImprovement >= options.earlyStoppingPatience) {
      stoppedEarly = true;
      log({ event: 'early_stop', step: state.step, best_step: state.bestStep });
      break;
    }
  }

  // Finish with the best parameters when validation chose them (outputDir/best holds them).
  if (state.bestStep !== null) {
    loadCheckpoint(join(outputDir, 'best'), parameters);
    trainables.selective?.sync();
  }
  const summary: TrainingSummary = {
    steps: state.step,
    resumedFrom,
    finalLoss: lastLoss,
    bestValidationLoss: state.bestValidationLoss,
    bestStep: state.bestStep,
    stoppedEarly,
    seconds: (performance.now() - started) / 1000,
    tokens,
  };
  log({ event: 'end', ...summary });
  return summary;
}
