import { InvalidInputError } from '../../errors.js';
import { generate } from '../../inference/generate.js';
import type { DecodingStrategy } from '../../inference/sampling.js';
import type { BloomTokenizer } from '../../tokenizer/tokenizer.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, loadModelForCli, loadTokenizerForCli, parseIdList, requireModelDir } from '../model-options.js';
import { note } from '../progress.js';
import { integerOption, numberOption } from '../option-values.js';
import { parseOptions } from '../parse-options.js';

export const GENERATE_HELP = `tuneloop generate: continue prompts with a BLOOM model

Usage:
  tuneloop generate --model DIR --prompt "The capital of France is" [options]
  tuneloop generate --model DIR --ids 17,200,33 --max-new-tokens 10 --greedy --json

Input (repeat either to generate for a batch; rows are left-padded and run together):
  --prompt TEXT          text, tokenized with the model's tokenizer.json
  --ids LIST             token ids, comma-separated

Decoding:
  --max-new-tokens N     tokens to generate per prompt (default 32)
  --greedy               always take the most likely token (the default)
  --sample               sample instead; implied by any option below
  --temperature T        divide logits by T before sampling (default 1)
  --top-k K              sample among the K most likely tokens (default 0: off)
  --top-p P              sample from the smallest set with probability >= P (default 1: off)
  --seed S               random seed; the same seed gives the same text (default 0)
  --stop TEXT            stop a row when its text contains TEXT (repeatable; needs tokenizer.json)
  --no-eos               keep going past the end-of-sequence token

Model:
${MODEL_OPTIONS_HELP}

Output:
  --json                 print one JSON object per prompt: new_tokens (ids), text, log_probs,
                         finish_reason (eos, stop or length), prompt_tokens, and timings
Progress and timings go to stderr; results go to stdout.`;

export async function runGenerate(argv: string[]): Promise<void> {
  const { values } = parseOptions('generate', {
    args: argv,
    options: {
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
      stop: { type: 'string', multiple: true },
      'no-eos': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const dir = requireModelDir(values.model);
  const texts = values.prompt ?? [];
  const idLists = (values.ids ?? []).map((v, i) => parseIdList(v, `--ids #${i + 1}`));
  if (texts.length > 0 && idLists.length > 0) throw new InvalidInputError('--prompt', 'give prompts as --prompt or as --ids, not both');
  if (texts.length === 0 && idLists.length === 0) throw new InvalidInputError('--prompt', 'is required (or --ids): what should the model continue?');
  texts.forEach((t, i) => {
    if (t.length === 0) throw new InvalidInputError(`--prompt #${i + 1}`, 'is empty');
  });
  const needsTokenizer = texts.length > 0 || (values.stop ?? []).length > 0;
  const tokenizer: BloomTokenizer | undefined = needsTokenizer
    ? await loadTokenizerForCli(dir, 'text prompts and --stop need the tokenizer (or pass --ids)')
    : undefined;

  const strategy = parseStrategy(values);
  const maxNewTokens = integerOption(values['max-new-tokens'], '--max-new-tokens', 1)!;
  const model = await loadModelForCli(values);
  const prompts = texts.length > 0 ? texts.map((t) => tokenizer!.encode(t)) : idLists;
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new InvalidInputError(`--prompt #${i + 1}`, 'tokenizes to no tokens');
    const bad = p.find((id) => id >= model.config.vocabSize);
    if (bad !== undefined) throw new InvalidInputError(texts.length > 0 ? `--prompt #${i + 1}` : `--ids #${i + 1}`, `token id ${bad} is outside the vocabulary [0, ${model.config.vocabSize})`);
  });

  // With one prompt and plain output, print text as it is generated.
  const streaming = !values.json && prompts.length === 1 && texts.length === 1 && !values.stop?.length;
  let emitted = 0;
  const streamedTokens: number[] = [];
  if (streaming) process.stdout.write(texts[0]);
  const result = generate(model, prompts, {
    maxNewTokens,
    strategy,
    eosTokenId: values['no-eos'] ? null : undefined,
    stop: values.stop && tokenizer ? { sequences: values.stop, decode: (ids) => tokenizer.decode(ids) } : undefined,
    onStep: streaming
      ? (_, tokens) => {
          if (tokens[0] < 0) return;
          streamedTokens.push(tokens[0]);
          const delta = tokenizer!.decodeIncrement(streamedTokens, emitted);
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
    const finalText = tokenizer!.decode(result.rows[0].newTokens);
    process.stdout.write(`${finalText.slice(emitted)}\n`);
    note(timingLine);
    return;
  }
  note(timingLine);
  result.rows.forEach((row, i) => {
    const text = tokenizer ? tokenizer.decode(row.newTokens) : undefined;
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



function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
