import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DatasetError } from '../errors.js';
import type { TaskConfig, TrainConfig } from './config.js';

/** A value of a run record: what a YAML field can hold. */
export type RecordValue = string | number | boolean | null | readonly string[];

/**
 * A run's configuration as flat `dotted.field` → value pairs named as the training YAML names them, saved
 * in every checkpoint and in training_summary.json so a later run can tell whether it continues the same
 * training and, when not, name each field that changed.
 */
export type RunRecord = Readonly<Record<string, RecordValue>>;

/**
 * Fields that may change when a killed run resumes from its checkpoint: they decide how long the run
 * goes on, when it validates and saves, and how backward is computed, not what the saved state means.
 * A new epochs or max_steps stretches the learning-rate schedule over the new total from the resumed step on.
 */
export const FREE_ON_RESUME: ReadonlySet<string> = new Set([
  'training.epochs',
  'training.max_steps',
  'training.eval_every',
  'training.early_stopping_patience',
  'training.checkpoint_every',
  'training.gradient_checkpointing',
]);

/** Fields that may differ from a finished run's without making it another run (its adapter would be the same). */
export const FREE_WHEN_FINISHED: ReadonlySet<string> = new Set(['training.checkpoint_every', 'training.gradient_checkpointing']);

/** The sha256 of a file's bytes: a data file is recorded by what it holds, so renaming it changes nothing. */
export function fileSha256(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new DatasetError(path, `cannot be read: ${(cause as Error).message}`, {}, { cause });
  }
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The record of one task of a training config: every field but output_dir and backend (where, and on what, it runs). */
export function taskRecord(config: TrainConfig, task: TaskConfig, position: number): RunRecord {
  const m = config.method;
  const method: Record<string, RecordValue> = { 'method.type': m.type };
  if (m.type === 'lora' || m.type === 'qlora') {
    Object.assign(method, {
      'method.r': m.r,
      'method.lora_alpha': m.loraAlpha,
      'method.lora_dropout': m.loraDropout,
      'method.target_modules': m.targetModules,
      'method.use_rslora': m.useRslora,
      'method.use_dora': m.useDora,
      'method.modules_to_save': m.modulesToSave,
      ...(m.type === 'qlora' ? { 'method.double_quant': m.doubleQuant } : {}),
    });
  } else if (m.type === 'prompt_tuning') {
    Object.assign(method, { 'method.num_virtual_tokens': m.numVirtualTokens, 'method.init': m.init, 'method.init_text': m.initText });
  } else if (m.type === 'layernorm') {
    method['method.target_modules'] = m.targetModules;
  } else if (m.type === 'selective') {
    method['method.parameters'] = m.parameters;
  }
  const d = config.data;
  const t = config.training;
  return {
    model: config.model,
    dtype: config.dtype,
    seed: config.seed,
    ...method,
    'data.max_length': d.maxLength,
    'data.over_length': d.overLength,
    'data.completion_only_loss': d.completionOnlyLoss,
    'data.packing': d.packing,
    'data.validation_fraction': d.validationFraction,
    'training.epochs': t.epochs,
    'training.max_steps': t.maxSteps,
    'training.batch_size': t.batchSize,
    'training.gradient_accumulation': t.gradientAccumulation,
    'training.learning_rate': t.learningRate,
    'training.weight_decay': t.weightDecay,
    'training.warmup_steps': t.warmupSteps,
    'training.schedule': t.schedule,
    'training.max_grad_norm': t.maxGradNorm,
    'training.eval_every': t.evalEvery,
    'training.early_stopping_patience': t.earlyStoppingPatience,
    'training.checkpoint_every': t.checkpointEvery,
    'training.gradient_checkpointing': t.gradientCheckpointing,
    // A task's seed is `seed` plus its position in tasks, so moving it in the list changes its training.
    'task.position': position,
    'task.train': fileSha256(task.train),
    'task.validation': task.validation === null ? null : fileSha256(task.validation),
  };
}

/** The record without the training loop's own `trainer.*` fields: what a training config decides. */
export function configFields(record: RunRecord): RunRecord {
  return Object.fromEntries(Object.entries(record).filter(([key]) => !key.startsWith('trainer.')));
}

function show(value: RecordValue | undefined): string {
  if (value === undefined) return '(not recorded)';
  if (typeof value === 'string') return value.startsWith('sha256:') ? `${value.slice(0, 19)}…` : JSON.stringify(value);
  return JSON.stringify(value);
}

/**
 * Each field, other than the `free` ones, whose value differs between `before` and `now`, as
 * "method.r was 8, now 16". Fields starting with `trainer.` are the training loop's own view of the
 * same settings; they are named only when no configuration field explains the difference.
 */
export function recordDifferences(before: RunRecord, now: RunRecord, free: ReadonlySet<string> = new Set()): string[] {
  const keys = [...new Set([...Object.keys(now), ...Object.keys(before)])].filter((key) => !free.has(key));
  const changed = keys.filter((key) => JSON.stringify(before[key]) !== JSON.stringify(now[key]));
  const configFields = changed.filter((key) => !key.startsWith('trainer.'));
  return (configFields.length > 0 ? configFields : changed).map((key) => `${key} was ${show(before[key])}, now ${show(now[key])}`);
}
