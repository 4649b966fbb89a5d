import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerFileError } from './tokenizer-error.js';
import { Tokenizer, type LibraryTokenizer } from './tokenizers-library.js';

/**
 * tokenizer_config.json merged with special_tokens_map.json. Each special token is given as its text, or
 * null where the files say the model has none; `additional_special_tokens` are also skipped by
 * `decode({ skipSpecialTokens })`.
 */
export interface TokenizerConfig {
  bos_token?: string | null;
  eos_token?: string | null;
  unk_token?: string | null;
  pad_token?: string | null;
  additional_special_tokens?: string[];
  [key: string]: unknown;
}

const SPECIAL_TOKEN_ROLES = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;
type SpecialTokenRole = (typeof SPECIAL_TOKEN_ROLES)[number];

/** BloomTokenizerFast's constructor defaults, which transformers applies when the config files leave a role out. */
const BLOOM_DEFAULT_SPECIAL_TOKENS: Record<SpecialTokenRole, string> = {
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
  pad_token: '<pad>',
};

const PIPELINE_COMPONENTS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;

/** The replacement character a UTF-8 decoder emits for bytes that do not (yet) form a character. */
const REPLACEMENT_CHARACTER = '\uFFFD';

export interface EncodeOptions {
  /**
   * Let the tokenizer's post-processor add its special tokens, as transformers does by default.
   * BLOOM's ByteLevel post-processor adds none, so BLOOM prompts get no BOS either way.
   */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface DecodeIncrementOptions extends DecodeOptions {
  /** The sequence is complete: emit everything, including bytes that never became a whole character. */
  final?: boolean;
}

/**
 * A BLOOM tokenizer: byte-level BPE from a Hugging Face `tokenizer.json`, run by @huggingface/tokenizers.
 * Decoding is lossless (transformers' `clean_up_tokenization_spaces` rewriting is never applied), so that
 * `decode(encode(text)) === text` and streamed text matches the final text exactly.
 */
export class BloomTokenizer {
  /** One more than the highest token id, counting added tokens. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  private readonly tokenizer: LibraryTokenizer;

  constructor(tokenizer: LibraryTokenizer, vocabSize: number, config: TokenizerConfig) {
    this.tokenizer = tokenizer;
    this.vocabSize = vocabSize;
    const idOf = (role: SpecialTokenRole): number | undefined => {
      const token = config[role] === undefined ? BLOOM_DEFAULT_SPECIAL_TOKENS[role] : config[role];
      return token === null ? undefined : this.tokenToId(token);
    };
    this.bosTokenId = idOf('bos_token');
    this.eosTokenId = idOf('eos_token');
    this.padTokenId = idOf('pad_token');
    this.unkTokenId = idOf('unk_token');
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /**
   * Ids the vocabulary lacks decode to nothing, as in Hugging Face tokenizers: BLOOM's embedding matrix
   * (vocab_size 250880) is larger than its tokenizer (250680 tokens), so a model can emit such ids.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`token id ${id} is not a non-negative integer`);
    }
    const known = ids.filter((id) => this.tokenizer.id_to_token(id) !== undefined);
    // The library rejects an empty list; an empty generation is simply empty text.
    if (known.length === 0) return '';
    return this.tokenizer.decode(known, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  /** The text of one token; a token holding part of a multi-byte character decodes to U+FFFD. */
  decodeToken(id: number): string {
    return this.decode([id]);
  }

  /**
   * The text that `allIds` adds beyond the first `emittedLength` characters already shown, for printing
   * a generation token by token. A byte-level token can end partway through a UTF-8 character, which
   * decodes as a trailing U+FFFD until a later token completes it, so trailing U+FFFD is held back until
   * `final`. Decodes the whole sequence on each call: fine for generations of a few thousand tokens.
   */
  decodeIncrement(allIds: readonly number[], emittedLength: number, options: DecodeIncrementOptions = {}): string {
    const text = this.decode(allIds, options);
    let stableEnd = text.length;
    if (options.final !== true) {
      while (stableEnd > 0 && text[stableEnd - 1] === REPLACEMENT_CHARACTER) stableEnd--;
    }
    return stableEnd > emittedLength ? text.slice(emittedLength, stableEnd) : '';
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}

/**
 * Loads the tokenizer of a Hugging Face model directory: `tokenizer.json` (required), and the special
 * tokens named by `tokenizer_config.json` and `special_tokens_map.json` where present.
 */
export async function loadTokenizer(dir: string): Promise<BloomTokenizer> {
  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizerJson = await readJsonFile(tokenizerPath, { required: true });
  const configPath = join(dir, 'tokenizer_config.json');
  const specialTokensMapPath = join(dir, 'special_tokens_map.json');
  const config = readTokenizerConfig(configPath, await readJsonFile(configPath, { required: false }));
  const specialTokensMap = readTokenizerConfig(
    specialTokensMapPath,
    await readJsonFile(specialTokensMapPath, { required: false }),
  );
  // As in transformers, special_tokens_map.json overrides tokenizer_config.json.
  return loadTokenizerFromJson(tokenizerJson, { ...config, ...specialTokensMap }, tokenizerPath);
}

/**
 * Builds a tokenizer from an already parsed `tokenizer.json`; `sourcePath` names the file in errors.
 * Throws TokenizerFileError when the JSON is not a usable BPE tokenizer.
 */
export function loadTokenizerFromJson(
  tokenizerJson: unknown,
  config: TokenizerConfig = {},
  sourcePath = 'tokenizer.json',
): BloomTokenizer {
  const checked = checkTokenizerJson(tokenizerJson, sourcePath);
  let tokenizer: LibraryTokenizer;
  try {
    tokenizer = new Tokenizer(checked.libraryJson, config);
  } catch (error) {
    throw new TokenizerFileError(sourcePath, `cannot be loaded by @huggingface/tokenizers: ${String(error)}`, {
      cause: error,
    });
  }
  return new BloomTokenizer(tokenizer, checked.vocabSize, config);
}

async function readJsonFile(path: string, options: { required: boolean }): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !options.required) return undefined;
    const problem = code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? String(error)})`;
    throw new TokenizerFileError(path, problem, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TokenizerFileError(path, `is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads the special tokens of tokenizer_config.json or special_tokens_map.json (undefined: no such file). */
function readTokenizerConfig(file: string, json: unknown): TokenizerConfig {
  if (json === undefined) return {};
  if (!isObject(json)) throw new TokenizerFileError(file, 'must contain a JSON object');
  const config: TokenizerConfig = { ...json };
  for (const role of SPECIAL_TOKEN_ROLES) {
    if (Object.hasOwn(json, role)) config[role] = readSpecialToken(file, role, json[role]);
  }
  if (Object.hasOwn(json, 'additional_special_tokens')) {
    const extra = json.additional_special_tokens;
    if (!Array.isArray(extra)) {
      throw new TokenizerFileError(file, 'must be an array of tokens', { field: 'additional_special_tokens' });
    }
    config.additional_special_tokens = extra.flatMap((token: unknown, index) => {
      const text = readSpecialToken(file, `additional_special_tokens[${index}]`, token);
      return text === null ? [] : [text];
    });
  }
  return config;
}

/** Config files spell a special token as its text, or as a serialized AddedToken with a `content` field. */
function readSpecialToken(file: string, field: string, value: unknown): string | null {
  if (value === null || typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  throw new TokenizerFileError(file, 'must be a token string, an object with a string "content", or null', {
    field,
  });
}

interface CheckedTokenizerJson {
  /** The tokenizer.json in the form the library expects: every pipeline key present, merges as pairs. */
  libraryJson: Record<string, unknown>;
  vocabSize: number;
}

/**
 * Checks tokenizer.json before the library sees it: the library trusts its input and fails later with
 * errors that name neither the file nor the field.
 */
function checkTokenizerJson(json: unknown, file: string): CheckedTokenizerJson {
  const fail = (field: string, problem: string): TokenizerFileError =>
    new TokenizerFileError(file, problem, { field });
  if (!isObject(json)) throw new TokenizerFileError(file, 'must contain a JSON object');
  if (!Object.hasOwn(json, 'model')) throw fail('model', 'is missing');
  const model = json.model;
  if (!isObject(model)) throw fail('model', 'must be an object');
  if (model.type !== 'BPE') {
    throw fail('model.type', `must be "BPE" (BLOOM uses byte-level BPE), not ${JSON.stringify(model.type)}`);
  }

  const vocab = model.vocab;
  if (!isObject(vocab)) throw fail('model.vocab', 'must be an object mapping token to id');
  const tokenById = new Map<number, string>();
  let maxId = -1;
  for (const [token, id] of Object.entries(vocab)) {
    const field = `model.vocab[${JSON.stringify(token)}]`;
    if (!isTokenId(id)) throw fail(field, 'must be a non-negative integer id');
    const holder = tokenById.get(id);
    if (holder !== undefined) throw fail(field, `reuses id ${id}, already given to ${JSON.stringify(holder)}`);
    tokenById.set(id, token);
    maxId = Math.max(maxId, id);
  }

  const merges = model.merges;
  if (!Array.isArray(merges)) {
    throw fail('model.merges', 'must be an array of merges ("left right" strings or [left, right] pairs)');
  }
  const mergePairs = merges.map((merge: unknown, index): [string, string] => {
    const field = `model.merges[${index}]`;
    const pair = parseMerge(merge);
    if (pair === undefined) throw fail(field, 'must be a "left right" string or a [left, right] pair of tokens');
    for (const token of [...pair, pair[0] + pair[1]]) {
      if (!Object.hasOwn(vocab, token)) throw fail(field, `uses ${JSON.stringify(token)}, which is not in model.vocab`);
    }
    return pair;
  });

  const addedTokens = json.added_tokens ?? [];
  if (!Array.isArray(addedTokens)) throw fail('added_tokens', 'must be an array of {id, content} objects');
  addedTokens.forEach((added: unknown, index) => {
    const field = `added_tokens[${index}]`;
    if (!isObject(added)) throw fail(field, 'must be an object with "id" and "content"');
    if (!isTokenId(added.id)) throw fail(`${field}.id`, 'must be a non-negative integer id');
    if (typeof added.content !== 'string' || added.content === '') {
      throw fail(`${field}.content`, 'must be a non-empty string');
    }
    for (const flag of ['single_word', 'lstrip', 'rstrip', 'normalized', 'special']) {
      if (Object.hasOwn(added, flag) && typeof added[flag] !== 'boolean') {
        throw fail(`${field}.${flag}`, 'must be true or false');
      }
    }
    maxId = Math.max(maxId, added.id);
  });
  if (maxId < 0) throw fail('model.vocab', 'must contain at least one token');

  const pipeline: Record<string, unknown> = {};
  for (const component of PIPELINE_COMPONENTS) {
    const value = json[component] ?? null;
    if (value !== null && !isObject(value)) throw fail(component, 'must be an object or null');
    if (value !== null && typeof value.type !== 'string') throw fail(`${component}.type`, 'must be a string');
    pipeline[component] = value;
  }

  return {
    libraryJson: { ...json, ...pipeline, added_tokens: addedTokens, model: { ...model, merges: mergePairs } },
    vocabSize: maxId + 1,
  };
}

/** A merge is "left right" (older files, BLOOM's) or ["left", "right"] (newer files). */
function parseMerge(merge: unknown): [string, string] | undefined {
  const parts = typeof merge === 'string' ? merge.split(' ') : merge;
  if (!Array.isArray(parts) || parts.length !== 2) return undefined;
  const [left, right] = parts as unknown[];
  return typeof left === 'string' && typeof right === 'string' && left !== '' && right !== ''
    ? [left, right]
    : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTokenId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
