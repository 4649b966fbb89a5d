import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { SeededRandom } from '../inference/sampling.js';
import type { BloomModel } from '../models/bloom/model.js';
import { type StepResult, type Trainables, type TrainingBatch, forwardBackward } from './bloom-backward.js';
import { type TrainerState, latestCheckpoint, loadCheckpoint, readCheckpointState, saveCheckpoint } from './checkpoint.js';
import { ADAMW_DEFAULTS, AdamW, type AdamWOptions, clipGradNorm } from './optimizer.js';
import { FREE_ON_RESUME, type RunRecord, recordDifferences } from './run-record.js';
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
  /**
   * The caller's configuration (see run-record.ts), saved in every checkpoint: a resume under another
   * one is refused naming the fields that changed. The loop adds its own settings as `trainer.*` fields.
   */
  readonly configRecord?: RunRecord;
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
  /** The last step's training loss. */
  readonly finalLoss: number | null;
  readonly bestValidationLoss: number | null;
  readonly bestStep: number | null;
  readonly stoppedEarly: boolean;
  /** Wall time of the invocation that finished the run. */
  readonly seconds: number;
  /** Tokens trained on since step 0, across resumes. */
  readonly tokens: number;
}

/** The summary as the files tuneloop writes hold it (snake_case keys). */
export function summaryJson(summary: TrainingSummary): Record<string, number | boolean | null> {
  return {
    steps: summary.steps,
    resumed_from: summary.resumedFrom,
    final_loss: summary.finalLoss,
    best_validation_loss: summary.bestValidationLoss,
    best_step: summary.bestStep,
    stopped_early: summary.stoppedEarly,
    seconds: summary.seconds,
    tokens: summary.tokens,
  };
}

/** Reads back what summaryJson wrote. */
export function summaryFromJson(json: Record<string, unknown>): TrainingSummary {
  return {
    steps: json.steps as number,
    resumedFrom: json.resumed_from as number | null,
    finalLoss: json.final_loss as number | null,
    bestValidationLoss: json.best_validation_loss as number | null,
    bestStep: json.best_step as number | null,
    stoppedEarly: json.stopped_early as boolean,
    seconds: json.seconds as number,
    tokens: json.tokens as number,
  };
}

/**
 * Cuts the JSONL log back to the records of steps up to `step`, the step the run continues from (0 for
 * a fresh start), so that steps a killed run logged after its last checkpoint are not logged twice. A
 * line cut short by the kill ends the part that can be trusted. The file is replaced atomically.
 */
export function rewindLog(logPath: string, step: number): void {
  if (!existsSync(logPath)) return;
  const lines = readFileSync(logPath, 'utf8').split('\n').filter((line) => line !== '');
  const kept: string[] = [];
  for (const line of lines) {
    let record: { step?: unknown };
    try {
      record = JSON.parse(line) as { step?: unknown };
    } catch {
      break;
    }
    if (typeof record.step === 'number' && record.step > step) break;
    kept.push(line);
  }
  if (kept.length === lines.length) return;
  writeFileSync(`${logPath}.tmp`, kept.map((line) => `${line}\n`).join(''));
  renameSync(`${logPath}.tmp`, logPath);
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
  const record: RunRecord = {
    ...options.configRecord,
    'trainer.trainable_parameters': createHash('sha256')
      .update(JSON.stringify([...parameters].map(([name, p]) => [name, p.length])))
      .digest('hex')
      .slice(0, 16),
    'trainer.train_batches': trainBatches.length,
    'trainer.seed': seed,
    'trainer.gradient_accumulation': accumulation,
    'trainer.max_grad_norm': options.maxGradNorm ?? null,
    'trainer.lr': adamw.lr,
    'trainer.beta1': adamw.beta1,
    'trainer.beta2': adamw.beta2,
    'trainer.eps': adamw.eps,
    'trainer.weight_decay': adamw.weightDecay,
    'trainer.schedule': schedule.kind,
    'trainer.warmup_steps': schedule.warmupSteps,
  };

  mkdirSync(outputDir, { recursive: true });
  const checkpointRoot = join(outputDir, 'checkpoints');
  const logPath = join(outputDir, 'train_log.jsonl');
  const log = (entry: Record<string, unknown>) => appendFileSync(logPath, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

  let state: TrainerState = { step: 0, microBatches: 0, bestValidationLoss: null, bestStep: null, evaluationsWithoutImprovement: 0, lastLoss: null, tokens: 0, config: record };
  let resumedFrom: number | null = null;
  const resumeDir = options.resume === false ? undefined : latestCheckpoint(checkpointRoot);
  if (resumeDir) {
    // The configuration is compared before any tensor is read: a changed rank would otherwise surface as a size mismatch.
    const saved = readCheckpointState(resumeDir);
    const changes = recordDifferences(saved.state.config, record, FREE_ON_RESUME);
    if (changes.length > 0) {
      throw new InvalidInputError('output_dir', `checkpoint in ${resumeDir} was written by a run with another configuration: ${changes.join('; ')}`);
    }
    optimizer.restore({ step: saved.optimizerStep, moments: loadCheckpoint(resumeDir, parameters) });
    trainables.selective?.sync();
    state = { ...saved.state, config: record };
    resumedFrom = state.step;
  }
  rewindLog(logPath, state.step);
  if (resumedFrom !== null) log({ event: 'resume', step: state.step, checkpoint: resumeDir });
  const started = performance.now();
  const patienceSpent = () => options.earlyStoppingPatience !== undefined && state.evaluationsWithoutImprovement >= options.earlyStoppingPatience;
  // A checkpoint saved at the step that stopped the run early resumes as stopped.
  let stoppedEarly = patienceSpent();
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

  while (!stoppedEarly && state.step < totalSteps) {
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
    const loss = lossSum / counted;
    state = { ...state, step: state.step + 1, lastLoss: loss, tokens: state.tokens + stepTokens };
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
    log({ event: 'step', step: state.step, loss, lr, grad_norm: gradNorm, tokens_per_second: tokensPerSecond, ...(validationLoss !== undefined ? { validation_loss: validationLoss } : {}) });
    options.onStep?.({ step: state.step, totalSteps, loss, lr, gradNorm, tokensPerSecond, validationLoss });
    if (options.checkpointEvery && state.step % options.checkpointEvery === 0) {
      saveCheckpoint(join(checkpointRoot, `step-${state.step}`), parameters, optimizer.state(), state);
      // Keep only the newest checkpoint besides `best`: resume needs no more.
      const previous = state.step - options.checkpointEvery;
      if (previous > 0) rmSync(join(checkpointRoot, `step-${previous}`), { recursive: true, force: true });
    }
    if (patienceSpent()) {
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
    finalLoss: state.lastLoss,
    bestValidationLoss: state.bestValidationLoss,
    bestStep: state.bestStep,
    stoppedEarly,
    seconds: (performance.now() - started) / 1000,
    tokens: state.tokens,
  };
  log({ event: 'end', step: state.step, ...summaryJson(summary) });
  return summary;
}
