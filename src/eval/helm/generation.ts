import { readFileSync } from 'node:fs';
import { DatasetError, InvalidInputError } from '../../errors.js';
import { generate } from '../../inference/generate.js';
import type { DecodingStrategy } from '../../inference/sampling.js';
import type { CausalLM } from '../../models/causal-lm.js';

/**
 * The generations the bias and toxicity metrics read: each prompt is generated on its own (batch of
 * one), so each request's latency is its own, as HELM's per-request inference runtime.
 */
export interface TextCodec {
  encode(text: string): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

export interface GenerationSettings {
  readonly maxNewTokens: number;
  /** Prompts longer than maxLength - maxNewTokens tokens keep their last tokens. */
  readonly maxLength: number;
  readonly strategy: DecodingStrategy;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface GenerationRecord {
  readonly prompt: string;
  readonly promptTokens: number;
  readonly text: string;
  readonly newTokens: number;
  readonly finishReason: string;
  /** Wall time of the whole request: prompt encoding, prefill, decoding and text decoding. */
  readonly latencyMs: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
}

export function generateAll(model: CausalLM, codec: TextCodec, prompts: readonly string[], settings: GenerationSettings): GenerationRecord[] {
  const budget = settings.maxLength - settings.maxNewTokens;
  if (budget < 1) throw new InvalidInputError('--max-new-tokens', `leaves no room for a prompt within --max-length ${settings.maxLength}`);
  const records: GenerationRecord[] = [];
  settings.onProgress?.(0, prompts.length);
  for (const prompt of prompts) {
    const started = performance.now();
    const ids = codec.encode(prompt);
    if (ids.length === 0) throw new InvalidInputError('prompt', `"${prompt.slice(0, 40)}" encodes to no tokens`);
    const kept = ids.slice(Math.max(0, ids.length - budget));
    const result = generate(model, [kept], { maxNewTokens: settings.maxNewTokens, strategy: settings.strategy });
    const row = result.rows[0];
    const text = codec.decode(row.newTokens, { skipSpecialTokens: true });
    records.push({
      prompt,
      promptTokens: kept.length,
      text,
      newTokens: row.newTokens.length,
      finishReason: row.finishReason,
      latencyMs: performance.now() - started,
      prefillMs: result.prefillMs,
      decodeMs: result.decodeMs,
    });
    settings.onProgress?.(records.length, prompts.length);
  }
  return records;
}

/**
 * A configured prompt set: a .jsonl file of objects with a "prompt" string, or any other file read as
 * one prompt per non-empty line.
 */
export function loadGenerationPrompts(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DatasetError(file, `cannot be read: ${(error as Error).message}`, {}, { cause: error });
  }
  const prompts: string[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    if (!file.endsWith('.jsonl')) {
      prompts.push(line.replace(/\r$/, ''));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new DatasetError(file, `is not valid JSON: ${(error as Error).message}`, { line: index + 1 }, { cause: error });
    }
    const prompt = (value as { prompt?: unknown } | null)?.prompt;
    if (typeof prompt !== 'string' || prompt === '') throw new DatasetError(file, 'must be a non-empty string', { line: index + 1, field: 'prompt' });
    prompts.push(prompt);
  });
  if (prompts.length === 0) throw new DatasetError(file, 'contains no prompts');
  return prompts;
}
