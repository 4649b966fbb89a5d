import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../../errors.js';
import { type LoglikelihoodRequest, scoreLoglikelihood } from '../../inference/score.js';
import type { BloomTokenizer } from '../../tokenizer/tokenizer.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, loadModelForCli, loadTokenizerForCli, parseIdList } from '../model-options.js';
import { checkModelOptions } from '../model-option-checks.js';
import { integerOption } from '../option-values.js';
import { parseOptions } from '../parse-options.js';
import { ProgressBar } from '../progress.js';

export const SCORE_HELP = `tuneloop score: log-likelihood of continuations given contexts

Usage:
  tuneloop score --model DIR --context "The sky is" --continuation " blue"
  tuneloop score --model DIR --context-ids 17,200 --continuation-ids 33,8 --json
  tuneloop score --model DIR --requests requests.jsonl --json

Requests (pairs are matched in order; repeat for several):
  --context TEXT, --continuation TEXT          text, tokenized with tokenizer.json
  --context-ids LIST, --continuation-ids LIST  token ids, comma-separated
  --requests FILE        JSON Lines: {"context": "...", "continuation": "..."} or
                         {"context_ids": [..], "continuation_ids": [..]} per line

Scoring:
  --batch-size N         rows per forward pass (default 8)
  --max-length N         longest input; longer requests lose context from the left (default 2048)

Model:
${MODEL_OPTIONS_HELP}

Output: one line per request with the summed log-likelihood, whether greedy decoding would produce
the continuation (is_greedy, as lm-evaluation-harness), and with --json the per-token log-probs.
The lm_head runs only at the positions that predict continuation tokens.`;

interface RawRequest {
  context?: string;
  continuation?: string;
  contextIds?: number[];
  continuationIds?: number[];
  source: string;
}

export async function runScore(argv: string[]): Promise<void> {
  const { values } = parseOptions('score', {
    args: argv,
    options: {
      ...MODEL_OPTIONS,
      context: { type: 'string', multiple: true },
      continuation: { type: 'string', multiple: true },
      'context-ids': { type: 'string', multiple: true },
      'continuation-ids': { type: 'string', multiple: true },
      requests: { type: 'string' },
      'batch-size': { type: 'string', default: '8' },
      'max-length': { type: 'string', default: '2048' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  // Every option is checked before the tokenizer or the model is read.
  const batchSize = integerOption(values['batch-size'], '--batch-size', 1)!;
  const maxLength = integerOption(values['max-length'], '--max-length', 2)!;
  const dir = checkModelOptions(values);
  const raw = collectRequests(values);
  const needsTokenizer = raw.some((r) => r.context !== undefined || r.continuation !== undefined);
  const tokenizer: BloomTokenizer | undefined = needsTokenizer ? await loadTokenizerForCli(dir, 'text requests need the tokenizer (or give token ids)') : undefined;
  const requests: LoglikelihoodRequest[] = raw.map((r) => ({
    context: r.contextIds ?? tokenizer!.encode(r.context ?? ''),
    continuation: r.continuationIds ?? tokenizer!.encode(r.continuation ?? ''),
  }));
  requests.forEach((r, i) => {
    if (r.continuation.length === 0) throw new InvalidInputError(raw[i].source, 'the continuation is empty (nothing to score)');
  });

  const model = await loadModelForCli(values);
  const bar = new ProgressBar('scoring', requests.length);
  const started = performance.now();
  const results = scoreLoglikelihood(model, requests, { batchSize, maxLength, onBatch: (done) => bar.update(done) });
  const tokens = requests.reduce((n, r) => n + r.context.length + r.continuation.length, 0);
  bar.finish(`${((tokens / (performance.now() - started)) * 1000).toFixed(1)} tokens/s`);

  results.forEach((result, i) => {
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ log_likelihood: result.logLikelihood, is_greedy: result.isGreedy, token_log_probs: result.tokenLogProbs, continuation_ids: requests[i].continuation })}\n`,
      );
    } else {
      process.stdout.write(`${result.logLikelihood.toFixed(4)}\t${result.isGreedy ? 'greedy' : 'not-greedy'}\t${raw[i].source}\n`);
    }
  });
}

function collectRequests(values: {
  context?: string[];
  continuation?: string[];
  'context-ids'?: string[];
  'continuation-ids'?: string[];
  requests?: string;
}): RawRequest[] {
  const out: RawRequest[] = [];
  const contexts = values.context ?? [];
  const continuations = values.continuation ?? [];
  if (contexts.length !== continuations.length) {
    throw new InvalidInputError('--continuation', `${contexts.length} --context but ${continuations.length} --continuation: give them in pairs`);
  }
  contexts.forEach((context, i) => out.push({ context, continuation: continuations[i], source: `--context/--continuation pair ${i + 1}` }));
  const contextIds = values['context-ids'] ?? [];
  const continuationIds = values['continuation-ids'] ?? [];
  if (contextIds.length !== continuationIds.length) {
    throw new InvalidInputError('--continuation-ids', `${contextIds.length} --context-ids but ${continuationIds.length} --continuation-ids: give them in pairs`);
  }
  contextIds.forEach((c, i) =>
    out.push({ contextIds: parseIdList(c, `--context-ids #${i + 1}`), continuationIds: parseIdList(continuationIds[i], `--continuation-ids #${i + 1}`), source: `--context-ids pair ${i + 1}` }),
  );
  if (values.requests) out.push(...readRequestsFile(values.requests));
  if (out.length === 0) throw new InvalidInputError('--context', 'no requests: give --context/--continuation, --context-ids/--continuation-ids or --requests FILE');
  return out;
}

function readRequestsFile(path: string): RawRequest[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new InvalidInputError('--requests', `cannot read ${path}: ${(cause as Error).message}`);
  }
  const out: RawRequest[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const source = `${path}:${index + 1}`;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(line) as Record<string, unknown>;
    } catch (cause) {
      throw new InvalidInputError(source, `not valid JSON (${(cause as Error).message})`);
    }
    const text = (field: string): string | undefined => {
      const v = json[field];
      if (v !== undefined && typeof v !== 'string') throw new InvalidInputError(`${source} field "${field}"`, 'must be a string');
      return v as string | undefined;
    };
    const ids = (field: string): number[] | undefined => {
      const v = json[field];
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) throw new InvalidInputError(`${source} field "${field}"`, 'must be an array of non-negative integers');
      return v as number[];
    };
    const request: RawRequest = { context: text('context'), continuation: text('continuation'), contextIds: ids('context_ids'), continuationIds: ids('continuation_ids'), source };
    if (request.continuation === undefined && request.continuationIds === undefined) throw new InvalidInputError(source, 'needs "continuation" or "continuation_ids"');
    if (request.context === undefined && request.contextIds === undefined) throw new InvalidInputError(source, 'needs "context" or "context_ids" (it may be empty text)');
    out.push(request);
  });
  return out;
}
