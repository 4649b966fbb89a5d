import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { SharedPrefixScorer, scoreLoglikelihoodShared } from '../../src/inference/shared-prefix-score.js';
import { type LoglikelihoodRequest, type LoglikelihoodResult, scoreLoglikelihood } from '../../src/inference/score.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import type { ForwardInput } from '../../src/models/bloom/model.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import type { CausalLM } from '../../src/models/causal-lm.js';
import { createPromptTuningAdapter, PromptTunedModel } from '../../src/peft/prompt-tuning/model.js';
import { backendCases } from '../helpers/backends.js';
import { loadReference } from '../helpers/reference.js';

const checkpointDir = loadReference('a').checkpointDir;
const cases = await backendCases();
const random = new SeededRandom(20);
const tokens = (n: number) => Array.from({ length: n }, () => 4 + Math.floor(random.next() * 508));

/** " A".." D" as single tokens, as the BLOOM tokenizer encodes MMLU's choices. */
const CHOICES = [[100], [101], [102], [103]];

/**
 * MMLU-shaped requests: per subject a description and few-shot block shared by its items, then each
 * item's own question; four single-token choices per item.
 */
function mmluRequests(subjects: number, itemsPerSubject: number, fewshotLength: number, firstTokens?: readonly number[]): LoglikelihoodRequest[] {
  const requests: LoglikelihoodRequest[] = [];
  for (let s = 0; s < subjects; s++) {
    const fewshot = tokens(fewshotLength);
    if (firstTokens) fewshot[0] = firstTokens[s];
    for (let i = 0; i < itemsPerSubject; i++) {
      const context = [...fewshot, ...tokens(5 + ((i * 7) % 9))];
      for (const continuation of CHOICES) requests.push({ context, continuation });
    }
  }
  return requests;
}

/** Every figure within `tolerance` of scoreLoglikelihood's, and the same greedy flags. */
function assertSameResults(actual: LoglikelihoodResult[], expected: LoglikelihoodResult[], tolerance: number): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.equal(a.tokenLogProbs.length, e.tokenLogProbs.length, `request ${i}: scored tokens`);
    assert.ok(Math.abs(a.logLikelihood - e.logLikelihood) <= tolerance, `request ${i}: ${a.logLikelihood} vs ${e.logLikelihood}`);
    a.tokenLogProbs.forEach((v, t) => assert.ok(Math.abs(v - e.tokenLogProbs[t]) <= tolerance, `request ${i} token ${t}: ${v} vs ${e.tokenLogProbs[t]}`));
    assert.equal(a.isGreedy, e.isGreedy, `request ${i}: is_greedy`);
  });
}

/** Wraps a model to count forward passes, the positions they run and the lm_head rows; `failAt` makes that forward throw. */
function counting(model: CausalLM, failAt = -1): { model: CausalLM; forwards: number[]; logitRows: number[] } {
  const forwards: number[] = [];
  const logitRows: number[] = [];
  const wrapped: CausalLM = {
    config: model.config,
    backend: model.backend,
    forward: (input: ForwardInput) => {
      forwards.push(input.ids.length);
      if (forwards.length - 1 === failAt) throw new Error('forward failed');
      return model.forward(input);
    },
    logits: (hidden, rows) => {
      logitRows.push(rows);
      return model.logits(hidden, rows);
    },
    createCache: (batch, capacity) => model.createCache(batch, capacity),
  };
  return { model: wrapped, forwards, logitRows };
}

for (const { name, backend, skipReason } of cases) {
  describe(`${name} backend`, { skip: skipReason }, () => {
    const model = () => BloomModel.load(checkpointDir, { backend: backend!, dtype: 'f32' });

    test('MMLU-shaped requests: the same log-likelihoods as scoreLoglikelihood (fp32, within 1e-5)', () => {
      const m = model();
      const requests = mmluRequests(3, 4, 40);
      assertSameResults(scoreLoglikelihoodShared(m, requests), scoreLoglikelihood(m, requests), 1e-5);
    });

    test('one forward per item, running only its own tokens after the shared few-shot prefix, and one lm_head row per item', () => {
      const requests = mmluRequests(2, 5, 40);
      const counted = counting(model());
      scoreLoglikelihoodShared(counted.model, requests, { logitRowsPerChunk: 1000 });
      const items = requests.length / 4;
      assert.equal(counted.forwards.length, items);
      const contexts = Array.from({ length: items }, (_, i) => requests[i * 4].context.length);
      // Per subject the first item in token order runs its whole context; every other item runs less than its question.
      const own = contexts.map((n) => n - 40);
      const total = counted.forwards.reduce((a, b) => a + b, 0);
      assert.ok(total <= 2 * 40 + own.reduce((a, b) => a + b, 0), `${total} positions run`);
      assert.deepEqual(counted.logitRows, [items]);
    });

    test('multi-token continuations, empty contexts, duplicates, cut contexts and rows that prefix others', () => {
      const m = model();
      const context = tokens(30);
      const other = tokens(12);
      const requests: LoglikelihoodRequest[] = [
        { context, continuation: tokens(3) },
        { context, continuation: tokens(1) },
        { context, continuation: [context[0], ...tokens(4)] },
        { context: [...context, ...tokens(2)], continuation: tokens(2) },
        { context, continuation: tokens(3) },
        { context: [], continuation: tokens(4) },
        { context: other, continuation: tokens(2) },
        { context: other, continuation: tokens(2) },
        { context: tokens(70), continuation: tokens(5) },
        { context: tokens(8), continuation: tokens(60) },
      ];
      requests.push(requests[0], requests[6]);
      const expected = scoreLoglikelihood(m, requests, { maxLength: 48 });
      for (const minSharedPrefix of [1, 4, 32]) {
        assertSameResults(scoreLoglikelihoodShared(m, requests, { maxLength: 48, minSharedPrefix, batchSize: 3, logitRowsPerChunk: 5 }), expected, 1e-5);
      }
    });

    // The second subject comes after the first in token order, then before it: either way the chunk
    // that ends inside it leaves its prefix in the cache for the next chunk.
    for (const firstTokens of [[10, 500], [500, 10]]) {
      test(`a scorer called in chunks keeps the shared prefix between calls and grows its cache (subjects starting ${firstTokens.join(', ')})`, () => {
        const requests = mmluRequests(2, 4, 40, firstTokens);
        const counted = counting(model());
        const scorer = new SharedPrefixScorer(counted.model);
        const first = scorer.score(requests.slice(0, 24));
        const forwardsBefore = counted.forwards.length;
        // A longer item than any so far: the held cache grows and keeps the prefix.
        const longer = { context: [...requests[16].context.slice(0, 40), ...tokens(30)], continuation: CHOICES[0] };
        const second = scorer.score([...requests.slice(24), longer]);
        // Each runs at most its own tokens (up to 30), never the 40-token prefix again.
        const secondCall = counted.forwards.slice(forwardsBefore);
        assert.ok(secondCall.length === 3 && secondCall.every((n) => n <= 30), `positions per forward in the second call: ${secondCall.join(', ')}`);
        assertSameResults([...first, ...second], scoreLoglikelihood(model(), [...requests, longer]), 1e-5);
      });
    }

    test('a forward that fails leaves nothing stale in the held cache', () => {
      const requests = mmluRequests(1, 4, 40);
      const scorer = new SharedPrefixScorer(counting(model(), 2).model);
      assert.throws(() => scorer.score(requests), /forward failed/);
      assertSameResults(scorer.score(requests), scoreLoglikelihood(model(), requests), 1e-5);
    });

    test('a prompt-tuned model: the same log-likelihoods as scoreLoglikelihood', () => {
      const base = model();
      const seeded = new SeededRandom(3);
      const adapter = createPromptTuningAdapter(base, { numVirtualTokens: 5, tokenDim: 64, init: 'RANDOM', initText: null }, { random: () => seeded.next() });
      const tuned = new PromptTunedModel(base, adapter);
      const requests = [...mmluRequests(2, 3, 40), { context: tokens(45), continuation: tokens(3) }];
      assertSameResults(scoreLoglikelihoodShared(tuned, requests), scoreLoglikelihood(tuned, requests), 1e-5);
    });

    test('bf16 weights: the same log-likelihoods as scoreLoglikelihood within bf16 rounding', () => {
      const m = BloomModel.load(checkpointDir, { backend: backend!, dtype: 'bf16' });
      const requests = mmluRequests(2, 3, 40);
      assertSameResults(scoreLoglikelihoodShared(m, requests), scoreLoglikelihood(m, requests), 1e-5);
    });
  });
}

test('bad requests are rejected by field, as scoreLoglikelihood rejects them', () => {
  const m = BloomModel.load(checkpointDir, { backend: cases[0].backend!, dtype: 'f32' });
  assert.throws(() => scoreLoglikelihoodShared(m, [{ context: [5], continuation: [] }]), (e: unknown) => InvalidInputError.isInstance(e) && e.message.includes('requests[0].continuation'));
  assert.throws(() => scoreLoglikelihoodShared(m, [{ context: [5, 900], continuation: [6] }]), (e: unknown) => InvalidInputError.isInstance(e) && e.message.includes('requests[0].context[1]'));
});
