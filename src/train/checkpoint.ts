import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../engine/tensor.js';
import { InvalidInputError } from '../errors.js';
import { SafetensorsFile, writeSafetensors } from '../formats/safetensors.js';
import type { AdamWState } from './optimizer.js';
import type { RunRecord } from './run-record.js';

/** Everything besides tensors that a resumed run needs to continue exactly where it stopped. */
export interface TrainerState {
  /** Optimiser steps taken. */
  readonly step: number;
  /** Micro-batches consumed in total (epoch position follows from it). */
  readonly microBatches: number;
  readonly bestValidationLoss: number | null;
  readonly bestStep: number | null;
  /** Evaluations since the best one, for early stopping. */
  readonly evaluationsWithoutImprovement: number;
  /** The last step's training loss (null before the first step), so a run resumed at its end still reports it. */
  readonly lastLoss: number | null;
  /** Tokens trained on since step 0, across resumes. */
  readonly tokens: number;
  /** The run's configuration: resuming under another one is refused, naming the fields that changed. */
  readonly config: RunRecord;
}

/** trainer_state.json as written: snake_case, with a format tag so an older layout is recognised and refused. */
interface TrainerStateJson {
  readonly format: typeof STATE_FORMAT;
  readonly version: typeof STATE_VERSION;
  readonly step: number;
  readonly micro_batches: number;
  readonly best_validation_loss: number | null;
  readonly best_step: number | null;
  readonly evaluations_without_improvement: number;
  readonly last_loss: number | null;
  readonly tokens: number;
  readonly optimizer_step: number;
  readonly config: RunRecord;
}

const STATE_FORMAT = 'tuneloop-trainer-state';
const STATE_VERSION = 2;
const PARAMETERS_FILE = 'parameters.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer_state.json';

/**
 * Writes a checkpoint directory atomically (staging directory, then rename): a run killed while
 * saving leaves the previous checkpoint intact and no partial one that a resume could pick up.
 */
export function saveCheckpoint(dir: string, parameters: ReadonlyMap<string, Float32Array>, optimizer: AdamWState, state: TrainerState): void {
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const asTensor = (data: Float32Array): Tensor => ({ dtype: 'f32', shape: [data.length], data });
  writeSafetensors(join(staging, PARAMETERS_FILE), new Map([...parameters].map(([name, p]) => [name, asTensor(p)])));
  const moments = new Map<string, Tensor>();
  for (const [name, { m, v }] of optimizer.moments) {
    moments.set(`${name}.exp_avg`, asTensor(m));
    moments.set(`${name}.exp_avg_sq`, asTensor(v));
  }
  writeSafetensors(join(staging, OPTIMIZER_FILE), moments);
  const json: TrainerStateJson = {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    step: state.step,
    micro_batches: state.microBatches,
    best_validation_loss: state.bestValidationLoss,
    best_step: state.bestStep,
    evaluations_without_improvement: state.evaluationsWithoutImprovement,
    last_loss: state.lastLoss,
    tokens: state.tokens,
    optimizer_step: optimizer.step,
    config: state.config,
  };
  writeFileSync(join(staging, STATE_FILE), `${JSON.stringify(json, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
}

/** The newest complete checkpoint under `root` (named step-N), if any. */
export function latestCheckpoint(root: string): string | undefined {
  if (!existsSync(root)) return undefined;
  const steps = readdirSync(root)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(root, m[0], STATE_FILE)))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  return steps.length > 0 ? join(root, `step-${steps[0]}`) : undefined;
}

/**
 * A checkpoint's trainer state, read without touching its tensors so that a resume can refuse a checkpoint
 * of another configuration first. A checkpoint from before tuneloop recorded its configuration is refused.
 */
export function readCheckpointState(dir: string): { state: TrainerState; optimizerStep: number } {
  const path = join(dir, STATE_FILE);
  let raw: Partial<TrainerStateJson>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<TrainerStateJson>;
  } catch (cause) {
    throw new InvalidInputError('output_dir', `checkpoint ${path} is unreadable (${(cause as Error).message}); train from the start (tuneloop train --fresh)`);
  }
  if (raw.format !== STATE_FORMAT || raw.version !== STATE_VERSION) {
    throw new InvalidInputError(
      'output_dir',
      `checkpoint in ${dir} was written by an older tuneloop, which did not record its configuration; it cannot be resumed safely: train from the start (tuneloop train --fresh) or into another output_dir`,
    );
  }
  const json = raw as TrainerStateJson;
  return {
    state: {
      step: json.step,
      microBatches: json.micro_batches,
      bestValidationLoss: json.best_validation_loss,
      bestStep: json.best_step,
      evaluationsWithoutImprovement: json.evaluations_without_improvement,
      lastLoss: json.last_loss,
      tokens: json.tokens,
      config: json.config,
    },
    optimizerStep: json.optimizer_step,
  };
}

/** Restores parameters in place and returns the optimiser moments saved with them. */
export function loadCheckpoint(dir: string, parameters: ReadonlyMap<string, Float32Array>): AdamWState['moments'] {
  const params = SafetensorsFile.open(join(dir, PARAMETERS_FILE));
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  const optimizer = SafetensorsFile.open(join(dir, OPTIMIZER_FILE));
  try {
    for (const [name, live] of parameters) {
      if (!params.has(name)) throw new InvalidInputError('resume', `${join(dir, PARAMETERS_FILE)} has no "${name}": the checkpoint belongs to another run`);
      const saved = params.read(name, 'f32').data as Float32Array;
      if (saved.length !== live.length) throw new InvalidInputError('resume', `"${name}" has ${saved.length} values in the checkpoint, ${live.length} in this run`);
      live.set(saved);
      moments.set(name, { m: optimizer.read(`${name}.exp_avg`, 'f32').data as Float32Array, v: optimizer.read(`${name}.exp_avg_sq`, 'f32').data as Float32Array });
    }
  } finally {
    params.close();
    optimizer.close();
  }
  return moments;
}
