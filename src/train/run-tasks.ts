import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeededRandom } from '../inference/sampling.js';
import type { BloomModel } from '../models/bloom/model.js';
import { baseModelRecordFile } from '../peft/base-model-record.js';
import { initialReplacements } from '../peft/lora/modules-to-save.js';
import { createLoraAdapter } from '../peft/lora/model.js';
import { createPromptTuningAdapter } from '../peft/prompt-tuning/model.js';
import { SelectiveTuning } from '../peft/selective/model.js';
import type { BloomTokenizer } from '../tokenizer/tokenizer.js';
import type { Trainables, TrainingBatch } from './bloom-backward.js';
import type { TaskConfig, TrainConfig } from './config.js';
import { bucketedBatches, packedBatches } from './data/batching.js';
import { loadRecords } from './data/records.js';
import { splitTrainValidation } from './data/split.js';
import { formatRecord } from './data/templates.js';
import { type TokenizedExample, type TruncationWarning, tokenizeExample } from './data/tokenize.js';
import { type StepEvent, type TrainingSummary, train } from './trainer.js';

export interface TaskRunHooks {
  readonly onTruncate?: (warning: TruncationWarning) => void;
  readonly onStep?: (task: string, event: StepEvent) => void;
  readonly onTaskStart?: (task: string, info: { trainExamples: number; validationExamples: number; steps: number }) => void;
}

export interface TaskResult {
  readonly task: string;
  readonly adapterDir: string;
  readonly summary: TrainingSummary;
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
      const { r, loraAlpha, loraDropout, targetModules, useRslora, modulesToSave } = method;
      const replacements = modulesToSave.length > 0 ? initialReplacements(model, modulesToSave) : undefined;
      return { lora: createLoraAdapter(model.config, { r, loraAlpha, loraDropout, targetModules, useRslora, modulesToSave }, 'default', next, replacements) };
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
export async function trainTasks(model: BloomModel, tokenizer: BloomTokenizer, config: TrainConfig, hooks: TaskRunHooks = {}): Promise<TaskResult[]> {
  const results: TaskResult[] = [];
  for (const [index, task] of config.tasks.entries()) {
    results.push(await trainTask(model, tokenizer, config, task, config.seed + index, hooks));
  }
  return results;
}

async function trainTask(model: BloomModel, tokenizer: BloomTokenizer, config: TrainConfig, task: TaskConfig, seed: number, hooks: TaskRunHooks): Promise<TaskResult> {
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

  const taskDir = join(config.outputDir, task.name);
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
    onStep: (event) => hooks.onStep?.(task.name, event),
  });

  const adapterDir = join(taskDir, 'adapter');
  const baseName = config.model;
  const record = baseModelRecordFile(model, baseName);
  if (trainables.lora) trainables.lora.save(adapterDir, baseName, record);
  else if (trainables.prompt) trainables.prompt.save(adapterDir, { name: baseName, numLayers: model.config.numLayers, numHeads: model.config.numHeads }, record);
  else if (trainables.selective) {
    // The tuned tensors are saved, then the base restored so the next task starts from it.
    trainables.selective.save(adapterDir, baseName, record);
    trainables.selective.restore();
  }
  const summaryPath = join(taskDir, 'training_summary.json');
  writeFileSync(`${summaryPath}.tmp`, `${JSON.stringify({ task: task.name, method: config.method.type, base_model: config.model, train_examples: split.train.length, validation_examples: split.validation.length, ...summary }, null, 2)}\n`);
  renameSync(`${summaryPath}.tmp`, summaryPath);
  return { task: task.name, adapterDir, summary };
}
