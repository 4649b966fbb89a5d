import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../engine/tensor.js';
import { InvalidInputError } from '../errors.js';
import { SafetensorsFile, writeSafetensors } from '../formats/safetensors.js';
import type { AdamWState } from './optimizer.js';

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
  /** A fingerprint of the run's configuration: resuming under another configuration is refused. */
  readonly configFingerprint: string;
}

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
  writeFileSync(join(staging, STATE_FILE), `${JSON.stringify({ ...state, optimizer_step: optimizer.step }, null, 2)}\n`);
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

/** Restores parameters in place and returns the optimiser and trainer state. */
export function loadCheckpoint(dir: string, parameters: ReadonlyMap<string, Float32Array>): { optimizer: AdamWState; state: TrainerState } {
  const raw = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as TrainerState & { optimizer_step: number };
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
  return { optimizer: { step: raw.optimizer_step, moments }, state: raw };
}
