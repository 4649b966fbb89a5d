import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import { generate } from '../../inference/generate.js';
import { type LogitsProcessing, type LogitsProcessingNames, validateLogitsProcessing } from '../../inference/logits-processors.js';
import { type DecodingStrategy, type StrategyNames, validateStrategy } from '../../inference/sampling.js';
import { readBloomConfig } from '../../models/bloom/config.js';
import type { BloomTokenizer } from '../../tokenizer/tokenizer.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, loadModelForCli, loadTokenizerForCli, parseDType, parseIdList, requireModelDir } from '../model-options.js';
import { note } from '../progress.js';
import { integerOption, numberOption } from '../option-values.js';
import { parseBackendChoice } from '../model-option-checks.js';
import { parseOptions } from '../parse-options.js';

export const GENERATE_HELP = `tuneloop generate: continue prompts with a BLOOM model

Usage:
  tuneloop generate --model DIR --prompt "The capital of France is" [options]
  tuneloop generate --model DIR --ids 17,200,33 --max-new-tokens 10 --greedy --json

Input (repeat either to generate for a batch; rows are left-padded and run together):
  --prompt TEXT          text, tokenized with the model's tokenizer.json
  --ids LIST             token ids, comma-separated

Decoding (each step as Hugging Face's generate: the penalties below, then temperature, top-k, top-p):
  --max-new-tokens N     tokens to generate per prompt (default 32)
  --greedy               always take the most likely token (the default)
  --sample               sample instead; implied by any of the four options below
  --temperature T        divide logits by T before sampling, T > 0 (default 1)
  --top-k K              sample among the K most likely tokens (default 0: off)
  --top-p P              sample from the smallest set with probability >= P, P in (0, 1] (default 1: off)
  --seed S               random seed; the same seed gives the same text (default 0)
  --repetition-penalty R penalise every token already in the row, prompt included: a positive logit is
                         divided by R, a negative one multiplied (default 1: off; 1.2 is common)
  --no-repeat-ngram-size N
                         never repeat an N-token sequence of the row, prompt included (default 0: off)
  --min-new-tokens N     do not end a row with the end-of-sequence token before N new tokens (default 0)
  --stop TEXT            stop a row when its text contains TEXT (repeatable; needs tokenizer.json)
  --no-eos               keep going past the end-of-sequence token

Model:
${MODEL_OPTIONS_HELP}

Output:
  Text is decoded with the model's tokenizer.json, for --ids too; special tokens such as </s> are left
  out of it (and out of what --stop matches) unless --keep-special-tokens is given.
  --keep-special-tokens  show special tokens in the text
  --json                 print one JSON object per prompt (one line each) instead of the text:
                           new_tokens       generated token ids, the end-of-sequence token included
                           text             their text, or null when the model has no tokenizer.json
                           log_probs        each new token's log-probability under the model: the
                                            log-softmax of its raw logits, before penalties and sampling
                           finish_reason    "eos", "stop" or "length"
                           prompt_tokens    the prompt's token ids
                           timings          {prefill_ms, decode_ms, decode_tokens_per_second}
Progress and timings go to stderr; results go to stdout.`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  prompt: { type: 'string', multiple: true },
  ids: { type: 'string', multiple: true },
  'max-new-tokens': { type: 'string', default: '32' },
  greedy: { type: 'boolean', default: false },
  sample: { type: 'boolean', default: false },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'no-repeat-ngram-size': { type: 'string' },
  'min-new-tokens': { type: 'string' },
  stop: { type: 'string', multiple: true },
  'no-eos': { type: 'boolean', default: false },
  'keep-special-tokens': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

/** The flag behind each setting, so that errors name what the user typed. */
const STRATEGY_FLAGS: StrategyNames = { temperature: '--temperature', topK: '--top-k', topP: '--top-p', seed: '--seed' };
const PROCESSING_FLAGS: LogitsProcessingNames = {
  repetitionPenalty: '--repetition-penalty',
  noRepeatNgramSize: '--no-repeat-ngram-size',
  minNewTokens: '--min-new-tokens',
};

export async function runGenerate(argv: string[]): Promise<void> {
  const { values } = parseOptions('generate', { args: argv, options: OPTIONS, strict: true });
  // Every flag is checked here, before anything loads or prints.
  const dir = requireModelDir(values.model);
  parseDType(values.dtype);
  // loadModelForCli checks --backend too, but only after the tokenizer has loaded and printed its note.
  parseBackendChoice(values.backend);
  const texts = values.prompt ?? [];
  const idLists = (values.ids ?? []).map((v, i) => parseIdList(v, `--ids #${i + 1}`));
  if (texts.length > 0 && idLists.length > 0) throw new InvalidInputError('--prompt', 'give prompts as --prompt or as --ids, not both');
  if (texts.length === 0 && idLists.length === 0) throw new InvalidInputError('--prompt', 'is required (or --ids): what should the model continue?');
  texts.forEach((t, i) => {
    if (t.length === 0) throw new InvalidInputError(`--prompt #${i + 1}`, 'is empty');
  });
  const strategy = parseStrategy(values);
  validateStrategy(strategy, STRATEGY_FLAGS);
  const processing = parseProcessing(values);
  validateLogitsProcessing(processing, PROCESSING_FLAGS);
  const maxNewTokens = integerOption(values['max-new-tokens'], '--max-new-tokens', 1)!;
  const { vocabSize } = readBloomConfig(join(dir, 'config.json'));
  idLists.forEach((ids, i) => checkVocabulary(ids, vocabSize, `--ids #${i + 1}`));

  // Text input and --stop need the tokenizer; --ids use it, when the model has one, to show the text.
  const needsTokenizer = texts.length > 0 || (values.stop ?? []).length > 0;
  const tokenizer: BloomTokenizer | undefined = needsTokenizer || existsSync(join(dir, 'tokenizer.json'))
    ? await loadTokenizerForCli(dir, 'text prompts and --stop need the tokenizer (or pass --ids)')
    : undefined;
  const decodeOptions = { skipSpecialTokens: !values['keep-special-tokens'] };
  const prompts = texts.length > 0 ? texts.map((t) => tokenizer!.encode(t)) : idLists;
  texts.forEach((_, i) => {
    if (prompts[i].length === 0) throw new InvalidInputError(`--prompt #${i + 1}`, 'tokenizes to no tokens');
    checkVocabulary(prompts[i], vocabSize, `--prompt #${i + 1}`);
  });
  const model = await loadModelForCli(values);

  // With one prompt and plain output, print text as it is generated.
  const streaming = !values.json && prompts.length === 1 && texts.length === 1 && !values.stop?.length;
  let emitted = 0;
  const streamedTokens: number[] = [];
  if (streaming) process.stdout.write(texts[0]);
  const result = generate(model, prompts, {
    maxNewTokens,
    strategy,
    processing,
    eosTokenId: values['no-eos'] ? null : undefined,
    stop: values.stop && tokenizer ? { sequences: values.stop, decode: (ids) => tokenizer.decode(ids, decodeOptions) } : undefined,
    onStep: streaming
      ? (_, tokens) => {
          if (tokens[0] < 0) return;
          streamedTokens.push(tokens[0]);
          const delta = tokenizer!.decodeIncrement(streamedTokens, emitted, decodeOptions);
          emitted += delta.length;
          process.stdout.write(delta);
        }
      : undefined,
  });
  const generatedTotal = result.rows.reduce((n, r) => n + r.newTokens.length, 0);
  const decodeTokens = Math.max(0, generatedTotal - prompts.length);
  const timings = {
    prefill_ms: round(result.prefillMs),
    decode_ms: round(result.decodeMs),
    decode_tokens_per_second: result.decodeMs > 0 ? round((decodeTokens / result.decodeMs) * 1000) : null,
  };
  const timingLine = `prefill ${timings.prefill_ms} ms for ${prompts.length} x ${Math.max(...prompts.map((p) => p.length))} tokens; decode ${timings.decode_ms} ms (${timings.decode_tokens_per_second ?? '-'} tokens/s)`;

  if (streaming) {
    const finalText = tokenizer!.decode(result.rows[0].newTokens, decodeOptions);
    process.stdout.write(`${finalText.slice(emitted)}\n`);
    note(timingLine);
    return;
  }
  note(timingLine);
  result.rows.forEach((row, i) => {
    const text = tokenizer ? tokenizer.decode(row.newTokens, decodeOptions) : undefined;
    if (values.json) {
      const out = { new_tokens: row.newTokens, text: text ?? null, log_probs: row.logProbs, finish_reason: row.finishReason, prompt_tokens: prompts[i], timings };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      process.stdout.write(`${text ?? row.newTokens.join(',')}\n`);
    }
  });
}

function parseStrategy(values: { greedy: boolean; sample: boolean; temperature?: string; 'top-k'?: string; 'top-p'?: string; seed?: string }): DecodingStrategy {
  const samplingOptionGiven = values.temperature !== undefined || values['top-k'] !== undefined || values['top-p'] !== undefined || values.seed !== undefined;
  if (values.greedy && (values.sample || samplingOptionGiven)) {
    throw new InvalidInputError('--greedy', 'cannot be combined with --sample, --temperature, --top-k, --top-p or --seed');
  }
  if (!values.sample && !samplingOptionGiven) return { kind: 'greedy' };
  return {
    kind: 'sample',
    temperature: numberOption(values.temperature ?? '1', '--temperature')!,
    topK: numberOption(values['top-k'] ?? '0', '--top-k')!,
    topP: numberOption(values['top-p'] ?? '1', '--top-p')!,
    seed: numberOption(values.seed ?? '0', '--seed')!,
  };
}

function parseProcessing(values: { 'repetition-penalty'?: string; 'no-repeat-ngram-size'?: string; 'min-new-tokens'?: string }): LogitsProcessing {
  return {
    repetitionPenalty: numberOption(values['repetition-penalty'], '--repetition-penalty'),
    noRepeatNgramSize: numberOption(values['no-repeat-ngram-size'], '--no-repeat-ngram-size'),
    minNewTokens: numberOption(values['min-new-tokens'], '--min-new-tokens'),
  };
}

function checkVocabulary(ids: readonly number[], vocabSize: number, field: string): void {
  const bad = ids.find((id) => id >= vocabSize);
  if (bad !== undefined) throw new InvalidInputError(field, `token id ${bad} is outside the vocabulary [0, ${vocabSize})`);
}


function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
