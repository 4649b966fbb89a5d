import { readFileSync } from 'node:fs';
import { CheckpointError } from '../../errors.js';

/** The parts of a Hugging Face BloomConfig that the model uses, validated. */
export interface BloomConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly layerNormEpsilon: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly tieWordEmbeddings: boolean;
  readonly applyResidualConnectionPostLayernorm: boolean;
}

/** Each field with the names it has had across transformers versions, newest first. */
const ALIASES = {
  hiddenSize: ['hidden_size', 'n_embed'],
  numLayers: ['n_layer', 'num_hidden_layers'],
  numHeads: ['n_head', 'num_attention_heads'],
} as const;

export function readBloomConfig(path: string): BloomConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new CheckpointError(path, `cannot read the model config: ${(cause as Error).message}`, {}, { cause });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(path, `not valid JSON (${(cause as Error).message})`, {}, { cause });
  }
  return parseBloomConfig(raw, path);
}

export function parseBloomConfig(raw: unknown, path = 'config.json'): BloomConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CheckpointError(path, 'must be a JSON object');
  const json = raw as Record<string, unknown>;
  const fail = (field: string, detail: string): never => {
    throw new CheckpointError(path, detail, { field });
  };
  const positiveInt = (names: readonly string[]): number => {
    const name = names.find((n) => n in json);
    if (name === undefined) return fail(names[0], `missing (also looked for ${names.slice(1).join(', ') || 'no alias'})`);
    const value = json[name];
    if (!Number.isSafeInteger(value) || (value as number) <= 0) fail(name, `must be a positive integer, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const optionalTokenId = (name: string): number | undefined => {
    const value = json[name];
    if (value === undefined || value === null) return undefined;
    if (!Number.isSafeInteger(value) || (value as number) < 0) fail(name, `must be a non-negative integer or null, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const optionalBoolean = (name: string, fallback: boolean): boolean => {
    const value = json[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') fail(name, `must be true or false, got ${JSON.stringify(value)}`);
    return value as boolean;
  };

  if (json.model_type !== undefined && json.model_type !== 'bloom') fail('model_type', `must be "bloom", got ${JSON.stringify(json.model_type)}`);
  const vocabSize = positiveInt(['vocab_size']);
  const hiddenSize = positiveInt(ALIASES.hiddenSize);
  const numLayers = positiveInt(ALIASES.numLayers);
  const numHeads = positiveInt(ALIASES.numHeads);
  if (hiddenSize % numHeads !== 0) fail('n_head', `hidden size ${hiddenSize} is not divisible by ${numHeads} heads`);
  const epsilon = json.layer_norm_epsilon ?? 1e-5;
  if (typeof epsilon !== 'number' || !(epsilon > 0)) fail('layer_norm_epsilon', `must be a positive number, got ${JSON.stringify(epsilon)}`);
  const config: BloomConfig = {
    vocabSize,
    hiddenSize,
    numLayers,
    numHeads,
    headDim: hiddenSize / numHeads,
    layerNormEpsilon: epsilon as number,
    bosTokenId: optionalTokenId('bos_token_id'),
    eosTokenId: optionalTokenId('eos_token_id'),
    padTokenId: optionalTokenId('pad_token_id'),
    tieWordEmbeddings: optionalBoolean('tie_word_embeddings', true),
    applyResidualConnectionPostLayernorm: optionalBoolean('apply_residual_connection_post_layernorm', false),
  };
  for (const field of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
    const id = json[field];
    if (typeof id === 'number' && id >= vocabSize) fail(field, `token id ${id} is outside the vocabulary of ${vocabSize}`);
  }
  return config;
}

/** Parameter count, the tied lm_head counted once. */
export function bloomParameterCount(c: BloomConfig): number {
  const h = c.hiddenSize;
  const perLayer = 2 * 2 * h + (3 * h * h + 3 * h) + (h * h + h) + (4 * h * h + 4 * h) + (4 * h * h + h);
  const lmHead = c.tieWordEmbeddings ? 0 : c.vocabSize * h;
  return c.vocabSize * h + 2 * h + c.numLayers * perLayer + 2 * h + lmHead;
}

/** Serialises to Hugging Face's config.json field names. */
export function bloomConfigToJson(c: BloomConfig): Record<string, unknown> {
  return {
    architectures: ['BloomForCausalLM'],
    model_type: 'bloom',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    n_layer: c.numLayers,
    n_head: c.numHeads,
    layer_norm_epsilon: c.layerNormEpsilon,
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenId ?? null,
    pad_token_id: c.padTokenId ?? null,
    tie_word_embeddings: c.tieWordEmbeddings,
    apply_residual_connection_post_layernorm: c.applyResidualConnectionPostLayernorm,
    attention_dropout: 0,
    hidden_dropout: 0,
    initializer_range: 0.02,
    pretraining_tp: 1,
    slow_but_exact: false,
    use_cache: true,
  };
}
