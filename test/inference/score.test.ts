import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { InvalidInputError } from '../../src/errors.js';
import { scoreLoglikelihood, scoreRolling } from '../../src/inference/score.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { loadReference } from '../helpers/reference.js';

const ref = loadReference('a');
const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
const logits = ref.f32('logits');
const ids = Array.from(ref.ints('input_ids'));
const vocab = 512;

/** log-softmax of Hugging Face's logits for row `b` at position `t`, read at `token`. */
function referenceLogProb(b: number, t: number, token: number): number {
  const row = logits.subarray((b * 12 + t) * vocab, (b * 12 + t + 1) * vocab);
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return row[token] - lse;
}

test('continuation log-likelihoods equal log-softmax of the reference logits', () => {
  const rows = [ids.slice(0, 12), ids.slice(12, 24)];
  const requests = [
    { context: rows[0].slice(0, 7), continuation: rows[0].slice(7) },
    { context: rows[1].slice(0, 3), continuation: rows[1].slice(3) },
    { context: rows[0].slice(0, 11), continuation: rows[0].slice(11) },
  ];
  const results = scoreLoglikelihood(model, requests, { batchSize: 2, logitRowsPerChunk: 3 });
  const expected = (b: number, split: number) => {
    let sum = 0;
    for (let t = split; t < 12; t++) sum += referenceLogProb(b, t - 1, ids[b * 12 + t]);
    return sum;
  };
  assert.ok(Math.abs(results[0].logLikelihood - expected(0, 7)) < 1e-4);
  assert.ok(Math.abs(results[1].logLikelihood - expected(1, 3)) < 1e-4);
  assert.ok(Math.abs(results[2].logLikelihood - expected(0, 11)) < 1e-4);
  assert.equal(results[0].tokenLogProbs.length, 5);
});

test('is_greedy is true exactly for the greedy continuation', () => {
  const context = ids.slice(0, 12);
  const greedyContinuation = Array.from(ref.ints('gen1_new_tokens').subarray(0, 3));
  const [greedy, other] = scoreLoglikelihood(model, [
    { context, continuation: greedyContinuation },
    { context, continuation: [greedyContinuation[0], (greedyContinuation[1] + 1) % vocab] },
  ]);
  assert.equal(greedy.isGreedy, true);
  assert.equal(other.isGreedy, false);
});

test('rolling log-likelihood scores every token after the end-of-text prefix', () => {
  const [result] = scoreRolling(model, [ids.slice(0, 6)]);
  assert.equal(result.tokenLogProbs.length, 6);
  const [same] = scoreLoglikelihood(model, [{ context: [2], continuation: ids.slice(0, 6) }]);
  assert.equal(result.logLikelihood, same.logLikelihood);
});

test('empty continuation and out-of-vocabulary ids are rejected by field', () => {
  assert.throws(() => scoreLoglikelihood(model, [{ context: [5], continuation: [] }]), (e: unknown) => InvalidInputError.isInstance(e) && e.field === 'requests[0].continuation');
  assert.throws(() => scoreLoglikelihood(model, [{ context: [5, 512], continuation: [1] }]), (e: unknown) => InvalidInputError.isInstance(e) && e.field === 'requests[0].context[1]');
});
