import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterError } from '../errors.js';
import type { BloomModel } from '../models/bloom/model.js';

/**
 * tuneloop's record of the base model an adapter was trained on, saved beside peft's files (peft reads
 * only its own). Shapes alone cannot tell that a LoRA adapter met another vocabulary: a base with the
 * same widths but another tokenizer has the same tensor shapes and gives silently wrong output. So the
 * record keeps the vocabulary size and a hash of tokenizer.json, and loading checks both.
 */
export const BASE_MODEL_RECORD_FILE = 'tuneloop_base_model.json';

export interface BaseModelRecord {
  readonly base_model_name_or_path: string;
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly n_layer: number;
  readonly n_head: number;
  /** sha256 of the base model's tokenizer.json, or null when it had none. */
  readonly tokenizer_sha256: string | null;
}

function tokenizerHash(modelDir: string | undefined): string | null {
  const path = modelDir === undefined ? undefined : join(modelDir, 'tokenizer.json');
  return path && existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : null;
}

export function baseModelRecord(model: BloomModel, name: string): BaseModelRecord {
  const { config } = model;
  return {
    base_model_name_or_path: name,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    n_layer: config.numLayers,
    n_head: config.numHeads,
    tokenizer_sha256: tokenizerHash(model.sourceDir),
  };
}

/** The record as the extra file an adapter directory is saved with. */
export function baseModelRecordFile(model: BloomModel, name: string): ReadonlyMap<string, string> {
  return new Map([[BASE_MODEL_RECORD_FILE, `${JSON.stringify(baseModelRecord(model, name), null, 2)}\n`]]);
}

/**
 * Refuses an adapter whose record (when it has one: adapters from peft have none) names another
 * vocabulary, tokenizer or architecture than `model`'s.
 */
export function checkBaseModelRecord(adapterDir: string, model: BloomModel): void {
  const path = join(adapterDir, BASE_MODEL_RECORD_FILE);
  if (!existsSync(path)) return;
  let record: Partial<BaseModelRecord>;
  try {
    record = JSON.parse(readFileSync(path, 'utf8')) as Partial<BaseModelRecord>;
  } catch (cause) {
    throw new AdapterError(path, `not valid JSON (${(cause as Error).message})`, {}, { cause });
  }
  const actual = baseModelRecord(model, '');
  const trainedOn = record.base_model_name_or_path ?? 'its base model';
  for (const field of ['vocab_size', 'hidden_size', 'n_layer', 'n_head'] as const) {
    if (record[field] !== undefined && record[field] !== actual[field]) {
      throw new AdapterError(path, `the adapter was trained on ${trainedOn} with ${field} ${record[field]}, but this model has ${actual[field]}`, { field });
    }
  }
  if (record.tokenizer_sha256 && actual.tokenizer_sha256 && record.tokenizer_sha256 !== actual.tokenizer_sha256) {
    throw new AdapterError(path, `the adapter was trained on ${trainedOn} with another tokenizer (vocabulary): its token ids mean other tokens here`, { field: 'tokenizer_sha256' });
  }
}
