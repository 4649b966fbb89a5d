import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FieldReader } from '../config/field-reader.js';
import { InvalidInputError } from '../errors.js';

/**
 * `tuneloop train --config train.yaml`: one base model, one method, and one adapter per task.
 * Every field is checked here, and an error names it by its dotted path (`training.learning_rate`).
 * Paths (model, output_dir, tasks[].train, tasks[].validation) are absolute: relative ones in the YAML
 * file are resolved from the file's folder, those from `--set` or a parsed object from the current folder.
 */
export interface TrainConfig {
  readonly model: string;
  readonly dtype: 'fp32' | 'bf16';
  readonly backend: 'auto' | 'native' | 'typescript';
  readonly outputDir: string;
  readonly seed: number;
  readonly method: MethodConfig;
  readonly data: DataConfig;
  readonly training: TrainingConfig;
  readonly tasks: readonly TaskConfig[];
}

export type MethodConfig =
  | LoraMethodConfig
  | { readonly type: 'prompt_tuning'; readonly numVirtualTokens: number; readonly init: 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB'; readonly initText: string | null }
  | { readonly type: 'bias' }
  | { readonly type: 'layernorm'; readonly targetModules: readonly string[] | null }
  | { readonly type: 'selective'; readonly parameters: readonly string[] };

/** LoRA, or QLoRA: LoRA on a base whose block linears are quantised to NF4 on load. */
export interface LoraMethodConfig {
  readonly type: 'lora' | 'qlora';
  readonly r: number;
  readonly loraAlpha: number;
  readonly loraDropout: number;
  readonly targetModules: readonly string[];
  readonly useRslora: boolean;
  /** DoRA (peft's use_dora): a trained magnitude per output row on top of LoRA. */
  readonly useDora: boolean;
  /** peft's modules_to_save: modules (lm_head, word_embeddings, LayerNorms) trained whole beside LoRA. */
  readonly modulesToSave: readonly string[];
  /** QLoRA: double-quantise the NF4 block scales (bitsandbytes' bnb_4bit_use_double_quant). */
  readonly doubleQuant: boolean;
}

export interface DataConfig {
  readonly maxLength: number;
  readonly overLength: 'truncate' | 'refuse';
  readonly completionOnlyLoss: boolean;
  readonly packing: boolean;
  /** Fraction of the training file held out when a task names no validation file. */
  readonly validationFraction: number;
}

export interface TrainingConfig {
  readonly epochs: number;
  readonly maxSteps: number | null;
  readonly batchSize: number;
  readonly gradientAccumulation: number;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly warmupSteps: number;
  readonly schedule: 'constant' | 'linear' | 'cosine';
  readonly maxGradNorm: number | null;
  readonly evalEvery: number | null;
  readonly earlyStoppingPatience: number | null;
  readonly checkpointEvery: number | null;
  readonly gradientCheckpointing: boolean;
}

export interface TaskConfig {
  readonly name: string;
  readonly train: string;
  readonly validation: string | null;
}

type Json = Record<string, unknown>;

const DEFAULT_OUTPUT_DIR = 'runs/train';

/**
 * Default learning rates: prompt tuning and the few parameters of bias and LayerNorm tuning move
 * slowly at LoRA's rate (the rates the project's learning test uses on the shipped tasks).
 */
const DEFAULT_LEARNING_RATE: Record<MethodConfig['type'], number> = { lora: 1e-3, qlora: 1e-3, prompt_tuning: 3e-2, bias: 1e-2, layernorm: 1e-2, selective: 1e-3 };

export function parseTrainConfig(raw: unknown, source = 'train config'): TrainConfig {
  const root = FieldReader.ofDocument(source, raw);
  root.rejectUnknown(['model', 'dtype', 'backend', 'output_dir', 'seed', 'method', 'data', 'training', 'tasks']);

  const m = root.child('method');
  const type = m.choice('type', ['lora', 'qlora', 'prompt_tuning', 'bias', 'layernorm', 'selective'] as const, 'lora');
  let method: MethodConfig;
  if (type === 'lora' || type === 'qlora') {
    m.rejectUnknown(['type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'use_rslora', 'use_dora', 'modules_to_save', ...(type === 'qlora' ? ['double_quant'] : [])]);
    const r = m.number('r', 8, { min: 1, integer: true });
    method = {
      type,
      r,
      loraAlpha: m.number('lora_alpha', 2 * r, { min: 0, exclusiveMin: true }),
      loraDropout: m.number('lora_dropout', 0, { min: 0, max: 0.99 }),
      targetModules: m.stringList('target_modules', ['query_key_value']),
      useRslora: m.boolean('use_rslora', false),
      useDora: m.boolean('use_dora', false),
      modulesToSave: m.optionalStringList('modules_to_save') ?? [],
      doubleQuant: m.boolean('double_quant', true),
    };
  } else if (type === 'prompt_tuning') {
    m.rejectUnknown(['type', 'num_virtual_tokens', 'init', 'init_text']);
    const init = m.choice('init', ['RANDOM', 'TEXT', 'SAMPLE_VOCAB'] as const, 'RANDOM');
    const initText = m.optionalString('init_text');
    if (init === 'TEXT' && !initText) m.fail('init_text', 'is required when method.init is TEXT');
    method = { type, numVirtualTokens: m.number('num_virtual_tokens', 20, { min: 1, integer: true }), init, initText };
  } else if (type === 'layernorm') {
    m.rejectUnknown(['type', 'target_modules']);
    method = { type, targetModules: m.optionalStringList('target_modules') };
  } else if (type === 'selective') {
    m.rejectUnknown(['type', 'parameters']);
    method = { type, parameters: m.stringList('parameters') };
  } else {
    m.rejectUnknown(['type']);
    method = { type };
  }

  const d = root.child('data');
  d.rejectUnknown(['max_length', 'over_length', 'completion_only_loss', 'packing', 'validation_fraction']);
  const data: DataConfig = {
    maxLength: d.number('max_length', 256, { min: 2, integer: true }),
    overLength: d.choice('over_length', ['truncate', 'refuse'] as const, 'truncate'),
    completionOnlyLoss: d.boolean('completion_only_loss', true),
    packing: d.boolean('packing', false),
    validationFraction: d.number('validation_fraction', 0.1, { min: 0, max: 0.9 }),
  };

  const t = root.child('training');
  t.rejectUnknown([
    'epochs', 'max_steps', 'batch_size', 'gradient_accumulation', 'learning_rate', 'weight_decay', 'warmup_steps', 'schedule',
    'max_grad_norm', 'eval_every', 'early_stopping_patience', 'checkpoint_every', 'gradient_checkpointing',
  ]);
  const training: TrainingConfig = {
    epochs: t.number('epochs', 3, { min: 1, integer: true }),
    maxSteps: t.optionalNumber('max_steps', { min: 1, integer: true }),
    batchSize: t.number('batch_size', 8, { min: 1, integer: true }),
    gradientAccumulation: t.number('gradient_accumulation', 1, { min: 1, integer: true }),
    learningRate: t.number('learning_rate', DEFAULT_LEARNING_RATE[type], { min: 0, exclusiveMin: true }),
    weightDecay: t.number('weight_decay', 0.01, { min: 0 }),
    warmupSteps: t.number('warmup_steps', 0, { min: 0, integer: true }),
    schedule: t.choice('schedule', ['constant', 'linear', 'cosine'] as const, 'linear'),
    maxGradNorm: t.optionalNumber('max_grad_norm', { min: 0, exclusiveMin: true }) ?? 1,
    evalEvery: t.optionalNumber('eval_every', { min: 1, integer: true }),
    earlyStoppingPatience: t.optionalNumber('early_stopping_patience', { min: 1, integer: true }),
    checkpointEvery: t.optionalNumber('checkpoint_every', { min: 1, integer: true }),
    // On by default for QLoRA, whose point is training in little memory (as peft's prepare_model_for_kbit_training).
    gradientCheckpointing: t.boolean('gradient_checkpointing', type === 'qlora'),
  };

  const names = new Set<string>();
  const tasks = root.list('tasks').map((task) => {
    task.rejectUnknown(['name', 'train', 'validation']);
    const name = task.nonEmptyString('name');
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) task.fail('name', `"${name}" must use letters, digits, _ . - only (it names a directory)`);
    if (names.has(name)) task.fail('name', `"${name}" appears twice`);
    names.add(name);
    const validation = task.optionalString('validation');
    return { name, train: resolve(task.nonEmptyString('train')), validation: validation === null ? null : resolve(validation) };
  });

  return {
    model: resolve(root.nonEmptyString('model')),
    dtype: root.choice('dtype', ['fp32', 'bf16'] as const, 'fp32'),
    backend: root.choice('backend', ['auto', 'native', 'typescript'] as const, 'auto'),
    outputDir: resolve(root.nonEmptyString('output_dir', DEFAULT_OUTPUT_DIR)),
    seed: root.number('seed', 42, { integer: true }),
    method,
    data,
    training,
    tasks,
  };
}

/** Reads and checks a YAML config file; `overrides` are `dotted.path=value` pairs from the command line. */
export function readTrainConfig(path: string, overrides: readonly string[] = []): TrainConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new InvalidInputError(path, `cannot read the YAML config: ${(cause as Error).message}`);
  }
  resolvePathsFrom(raw, dirname(path));
  for (const override of overrides) applyOverride(raw as Json, override);
  return parseTrainConfig(raw, path);
}

/**
 * Makes the file's relative paths (and the default output_dir) absolute from `dir`, the file's folder,
 * before `--set` values, which are relative to the current folder, are applied. Values of the wrong
 * type are left for parseTrainConfig to reject by name.
 */
function resolvePathsFrom(document: unknown, dir: string): void {
  const isMapping = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
  const resolveField = (mapping: Json, field: string) => {
    if (typeof mapping[field] === 'string' && mapping[field] !== '') mapping[field] = resolve(dir, mapping[field]);
  };
  if (!isMapping(document)) return;
  document.output_dir ??= DEFAULT_OUTPUT_DIR;
  resolveField(document, 'model');
  resolveField(document, 'output_dir');
  if (!Array.isArray(document.tasks)) return;
  for (const task of document.tasks as unknown[]) {
    if (!isMapping(task)) continue;
    resolveField(task, 'train');
    resolveField(task, 'validation');
  }
}

/** `training.learning_rate=3e-4` sets that field; the value is parsed as YAML (numbers, booleans, lists). */
export function applyOverride(target: Json, override: string): void {
  const eq = override.indexOf('=');
  if (eq <= 0) throw new InvalidInputError('--set', `"${override}" must look like field.path=value`);
  const path = override.slice(0, eq).split('.');
  const value = parseYaml(override.slice(eq + 1)) as unknown;
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]] = value;
}
