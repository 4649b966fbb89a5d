import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { SeededRandom } from '../inference/sampling.js';
import type { BloomModel } from '../models/bloom/model.js';
import { baseModelRecordFile } from '../peft/base-model-record.js';
import { initialReplacements } from '../peft/lora/modules-to-save.js';
import { createLoraAdapter } from '../peft/lora/model.js';
import { createPromptTuningAdapter } from '../peft/prompt-tuning/model.js';
import { SelectiveTuning } from '../peft/selective/model.js';
import type { BloomTokenizer } from '../tokenizer/tokenizer.js';
import type { Trainables, TrainingBatch } from './bloom-backward.js';
import { latestCheckpoint, readCheckpointState } from './checkpoint.js';
import type { TaskConfig, TrainConfig } from './config.js';
import { bucketedBatches, packedBatches } from './data/batching.js';
import { loadRecords } from './data/records.js';
import { splitTrainValidation } from './data/split.js';
import { formatRecord } from './data/templates.js';
import { type TokenizedExample, type TruncationWarning, tokenizeExample } from './data/tokenize.js';
import { FREE_ON_RESUME, FREE_WHEN_FINISHED, type RunRecord, configFields, recordDifferences, taskRecord } from './run-record.js';
import { type StepEvent, type TrainingSummary, summaryFromJson, summaryJson, train } from './trainer.js';

export interface TaskRunHooks {
  readonly onTruncate?: (warning: TruncationWarning) => void;
  readonly onStep?: (task: string, event: StepEvent) => void;
  readonly onTaskStart?: (task: string, info: { trainExamples: number; validationExamples: number; steps: number }) => void;
}

export interface TaskResult {
  readonly task: string;
  readonly adapterDir: string;
  readonly summary: TrainingSummary;
  /** The task's output already held this run, finished: nothing was trained or written. */
  readonly alreadyFinished: boolean;
}

export interface TaskRunOptions {
  /** Discard what earlier runs left in each task's directory (checkpoints, log, summary, adapter) and train from step 0. */
  readonly fresh?: boolean;
}

/** What a run of the config will do with one task, decided from its output directory alone. */
export type TaskPlan =
  | { readonly kind: 'finished'; readonly result: TaskResult }
  | { readonly kind: 'train'; readonly task: TaskConfig; readonly position: number; readonly record: RunRecord; readonly resumeFrom: number | null };

const SUMMARY_FILE = 'training_summary.json';
/** What tuneloop writes in a task's directory, and what --fresh removes (nothing else there is touched). */
const TASK_OUTPUTS = ['adapter', 'checkpoints', 'best', 'train_log.jsonl', SUMMARY_FILE];

const taskDirOf = (config: TrainConfig, task: TaskConfig) => join(config.outputDir, task.name);

/**
 * For each task: finished already (its summary records the same configuration and its adapter is
 * there), or to train, from its newest checkpoint when there is one. A task whose directory holds a
 * run of another configuration, finished or not, is refused with every field that differs, before
 * any model is loaded or any task trained; `fresh` trains every task from step 0 instead.
 */
export function planTasks(config: TrainConfig, options: TaskRunOptions = {}): TaskPlan[] {
  return config.tasks.map((task, position) => {
    const record = taskRecord(config, task, position);
    if (options.fresh) return { kind: 'train', task, position, record, resumeFrom: null };
    const taskDir = taskDirOf(config, task);
    const summaryPath = join(taskDir, SUMMARY_FILE);
    const adapterDir = join(taskDir, 'adapter');
    if (existsSync(summaryPath)) {
      let written: Record<string, unknown>;
      try {
        written = JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, unknown>;
      } catch (cause) {
        throw new InvalidInputError('output_dir', `${summaryPath} is unreadable (${(cause as Error).message}); use --fresh to train again, or another output_dir`);
      }
      if (typeof written.config !== 'object' || written.config === null) {
        throw new InvalidInputError('output_dir', `${summaryPath} was written by an older tuneloop, which did not record its configuration; use --fresh to train again, or another output_dir`);
      }
      const changes = recordDifferences(written.config as RunRecord, record, FREE_WHEN_FINISHED);
      if (changes.length > 0) {
        throw new InvalidInputError('output_dir', `${taskDir} holds a run finished with another configuration: ${changes.join('; ')}; use --fresh to discard it and train again, or another output_dir`);
      }
      // A finished run whose adapter was removed resumes from its checkpoint and writes the adapter again.
      if (existsSync(adapterDir)) return { kind: 'finished', result: { task: task.name, adapterDir, summary: summaryFromJson(written), alreadyFinished: true } };
    }
    const checkpoint = latestCheckpoint(join(taskDir, 'checkpoints'));
    if (checkpoint === undefined) return { kind: 'train', task, position, record, resumeFrom: null };
    const saved = readCheckpointState(checkpoint).state;
    const changes = recordDifferences(configFields(saved.config), record, FREE_ON_RESUME);
    if (changes.length > 0) {
      throw new InvalidInputError('output_dir', `checkpoint in ${checkpoint} was written by a run with another configuration: ${changes.join('; ')}; use --fresh to discard it and train from the start, or another output_dir`);
    }
    return { kind: 'train', task, position, record, resumeFrom: saved.step };
  });
}

async function tokenizedExamples(file: string, tokenizer: BloomTokenizer, config: TrainConfig, hooks: TaskRunHooks): Promise<TokenizedExample[]> {
  const records = await loadRecords(file);
  return records.map((located) => {
    const { prompt, completion } = formatRecord(located);
    return tokenizeExample(tokenizer, prompt, completion, {
      location: located.location,
      maxLength: config.data.maxLength,
      completionOnly: config.data.completionOnlyLoss,
      overLength: config.data.overLength,
      onTruncate: hooks.onTruncate,
    });
  });
}

function batchesOf(examples: readonly TokenizedExample[], config: TrainConfig, tokenizer: BloomTokenizer, seed: number): TrainingBatch[] {
  const padTokenId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  if (config.data.packing) {
    return packedBatches(examples, { maxLength: config.data.maxLength, batchSize: config.training.batchSize, eosTokenId: tokenizer.eosTokenId ?? padTokenId, padTokenId, seed });
  }
  return bucketedBatches(examples, { batchSize: config.training.batchSize, padTokenId, seed });
}

/** A fresh adapter of the configured method for one task. */
function createTrainables(model: BloomModel, config: TrainConfig, tokenizer: BloomTokenizer, seed: number): Trainables {
  const random = new SeededRandom(seed);
  const next = () => random.next();
  const method = config.method;
  switch (method.type) {
    case 'lora':
    case 'qlora':
    {
      const { r, loraAlpha, loraDropout, targetModules, useRslora, useDora, modulesToSave } = method;
      const replacements = modulesToSave.length > 0 ? initialReplacements(model, modulesToSave) : undefined;
      return { lora: createLoraAdapter(model.config, { r, loraAlpha, loraDropout, targetModules, useRslora, useDora, modulesToSave }, 'default', next, { baseModel: model, modulesToSave: replacements }) };
    }
    case 'prompt_tuning':
      return {
        prompt: createPromptTuningAdapter(
          model,
          { numVirtualTokens: method.numVirtualTokens, tokenDim: model.config.hiddenSize, init: method.init, initText: method.initText },
          { random: next, encode: (text) => tokenizer.encode(text) },
        ),
      };
    case 'bias':
      return { selective: SelectiveTuning.create(model, { kind: 'bias' }) };
    case 'layernorm':
      return { selective: SelectiveTuning.create(model, { kind: 'layernorm', targetModules: method.targetModules ?? undefined }) };
    case 'selective':
      return { selective: SelectiveTuning.create(model, { kind: 'named', patterns: method.parameters }) };
  }
}

/**
 * Trains one adapter per task on a shared frozen base: for each task, load and tokenize its data, split
 * off validation when no file is given, train, and save the adapter in peft's format with a summary.
 * Selectively tuned tensors are saved (LN tuning in peft's format) and then restored, so the next task
 * starts from the same base.
 */
export async function trainTasks(model: BloomModel, tokenizer: BloomTokenizer, config: TrainConfig, hooks: TaskRunHooks = {}, options: TaskRunOptions = {}): Promise<TaskResult[]> {
  const results: TaskResult[] = [];
  for (const plan of planTasks(config, options)) {
    if (plan.kind === 'finished') {
      results.push(plan.result);
      continue;
    }
    const taskDir = taskDirOf(config, plan.task);
    if (options.fresh) for (const name of TASK_OUTPUTS) rmSync(join(taskDir, name), { recursive: true, force: true });
    results.push(await trainTask(model, tokenizer, config, plan.task, config.seed + plan.position, plan.record, hooks));
  }
  return results;
}

async function trainTask(model: BloomModel, tokenizer: BloomTokenizer, config: TrainConfig, task: TaskConfig, seed: number, record: RunRecord, hooks: TaskRunHooks): Promise<TaskResult> {
  const all = await tokenizedExamples(task.train, tokenizer, config, hooks);
  const split = task.validation
    ? { train: all, validation: await tokenizedExamples(task.validation, tokenizer, config, hooks) }
    : splitTrainValidation(all, config.data.validationFraction, seed);
  const trainBatches = batchesOf(split.train, config, tokenizer, seed);
  const validationBatches = split.validation.length > 0 ? batchesOf(split.validation, config, tokenizer, seed + 1) : [];
  const trainables = createTrainables(model, config, tokenizer, seed);
  const stepsPerEpoch = Math.ceil(trainBatches.length / config.training.gradientAccumulation);
  hooks.onTaskStart?.(task.name, {
    trainExamples: split.train.length,
    validationExamples: split.validation.length,
    steps: Math.min(config.training.maxSteps ?? Infinity, stepsPerEpoch * config.training.epochs),
  });

  const taskDir = taskDirOf(config, task);
  const t = config.training;
  const summary = train({
    model,
    trainables,
    trainBatches,
    validationBatches,
    epochs: t.epochs,
    maxSteps: t.maxSteps ?? undefined,
    gradientAccumulation: t.gradientAccumulation,
    gradientCheckpointing: t.gradientCheckpointing,
    maxGradNorm: t.maxGradNorm ?? undefined,
    adamw: { lr: t.learningRate, weightDecay: t.weightDecay },
    schedule: { kind: t.schedule, warmupSteps: t.warmupSteps },
    evalEvery: validationBatches.length > 0 ? (t.evalEvery ?? stepsPerEpoch) : undefined,
    earlyStoppingPatience: t.earlyStoppingPatience ?? undefined,
    checkpointEvery: t.checkpointEvery ?? undefined,
    outputDir: taskDir,
    seed,
    configRecord: record,
    onStep: (event) => hooks.onStep?.(task.name, event),
  });

  const adapterDir = join(taskDir, 'adapter');
  const baseName = config.model;
  const baseModelFile = baseModelRecordFile(model, baseName);
  if (trainables.lora) trainables.lora.save(adapterDir, baseName, baseModelFile);
  else if (trainables.prompt) trainables.prompt.save(adapterDir, { name: baseName, numLayers: model.config.numLayers, numHeads: model.config.numHeads }, baseModelFile);
  else if (trainables.selective) {
    // The tuned tensors are saved, then the base restored so the next task starts from it.
    trainables.selective.save(adapterDir, baseName, baseModelFile);
    trainables.selective.restore();
  }
  // Written last, after the adapter: its presence with this configuration marks the task finished.
  const summaryPath = join(taskDir, SUMMARY_FILE);
  const written = {
    task: task.name,
    method: config.method.type,
    base_model: config.model,
    train_examples: split.train.length,
    validation_examples: split.validation.length,
    ...summaryJson(summary),
    config: record,
  };
  writeFileSync(`${summaryPath}.tmp`, `${JSON.stringify(written, null, 2)}\n`);
  renameSync(`${summaryPath}.tmp`, summaryPath);
  return { task: task.name, adapterDir, summary, alreadyFinished: false };
}
