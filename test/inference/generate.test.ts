import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { InvalidInputError } from '../../src/errors.js';
import { generate } from '../../src/inference/generate.js';
import { SeededRandom, sampleToken } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { loadReference } from '../helpers/reference.js';

const ref = loadReference('b');
const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
const prompt = Array.from(ref.ints('input_ids').subarray(0, 12));
const sampling = { kind: 'sample', temperature: 0.8, topK: 50, topP: 0.9, seed: 7 } as const;

test('sampling with a seed is reproducible, and another seed differs', () => {
  const a = generate(model, [prompt], { maxNewTokens: 12, strategy: sampling });
  const b = generate(model, [prompt], { maxNewTokens: 12, strategy: sampling });
  const c = generate(model, [prompt], { maxNewTokens: 12, strategy: { ...sampling, seed: 8 } });
  assert.deepEqual(a.rows[0].newTokens, b.rows[0].newTokens);
  assert.notDeepEqual(a.rows[0].newTokens, c.rows[0].newTokens);
});

test('top-k 1 and a tiny top-p both reduce sampling to greedy', () => {
  const greedy = generate(model, [prompt], { maxNewTokens: 8, strategy: { kind: 'greedy' } }).rows[0].newTokens;
  assert.deepEqual(generate(model, [prompt], { maxNewTokens: 8, strategy: { ...sampling, topK: 1 } }).rows[0].newTokens, greedy);
  assert.deepEqual(generate(model, [prompt], { maxNewTokens: 8, strategy: { ...sampling, topK: 0, topP: 1e-6 } }).rows[0].newTokens, greedy);
});

test('sampled frequencies follow the tempered distribution', () => {
  const logits = Float32Array.from([2, 1, 0, -1]);
  const random = new SeededRandom(1);
  const counts = [0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleToken(logits, 0, 4, { kind: 'sample', temperature: 2, topK: 0, topP: 1, seed: 1 }, random)]++;
  const weights = [2, 1, 0, -1].map((l) => Math.exp(l / 2));
  const total = weights.reduce((a, b) => a + b);
  counts.forEach((c, i) => assert.ok(Math.abs(c / n - weights[i] / total) < 0.015, `token ${i}: ${c / n} vs ${weights[i] / total}`));
  // With top-p 0.5 the most likely token (probability 0.46) is not enough, so the top two are kept.
  const kept = new Set<number>();
  for (let i = 0; i < 2000; i++) kept.add(sampleToken(logits, 0, 4, { kind: 'sample', temperature: 2, topK: 0, topP: 0.5, seed: 1 }, random));
  assert.deepEqual([...kept].sort(), [0, 1]);
});

test('EOS ends a row; max new tokens ends the rest; log-probs are log-softmax values', () => {
  const greedy = generate(model, [prompt], { maxNewTokens: 6, strategy: { kind: 'greedy' } }).rows[0];
  const eos = greedy.newTokens[2];
  const stopped = generate(model, [prompt], { maxNewTokens: 6, strategy: { kind: 'greedy' }, eosTokenId: eos }).rows[0];
  assert.deepEqual(stopped.newTokens, greedy.newTokens.slice(0, greedy.newTokens.indexOf(eos) + 1));
  assert.equal(stopped.finishReason, 'eos');
  assert.equal(greedy.finishReason, 'length');
  assert.ok(greedy.logProbs.every((p) => p < 0 && Number.isFinite(p)));
});

test('stop sequences cut a row at the first token whose text contains them', () => {
  const greedy = generate(model, [prompt], { maxNewTokens: 6, strategy: { kind: 'greedy' } }).rows[0];
  const decode = (tokens: readonly number[]) => tokens.map((t) => `<${t}>`).join('');
  const stop = `<${greedy.newTokens[3]}>`;
  const row = generate(model, [prompt], { maxNewTokens: 6, strategy: { kind: 'greedy' }, stop: { sequences: [stop], decode } }).rows[0];
  assert.equal(row.finishReason, 'stop');
  assert.deepEqual(row.newTokens, greedy.newTokens.slice(0, greedy.newTokens.indexOf(greedy.newTokens[3]) + 1));
});

test('bad requests throw InvalidInputError naming the field', () => {
  const check = (fn: () => unknown, field: string) => assert.throws(fn, (e: unknown) => InvalidInputError.isInstance(e) && e.field === field);
  check(() => generate(model, [[]], { maxNewTokens: 2, strategy: { kind: 'greedy' } }), 'prompts[0]');
  check(() => generate(model, [], { maxNewTokens: 2, strategy: { kind: 'greedy' } }), 'prompts');
  check(() => generate(model, [[5, 99999]], { maxNewTokens: 2, strategy: { kind: 'greedy' } }), 'ids');
  check(() => generate(model, [[5, -1]], { maxNewTokens: 2, strategy: { kind: 'greedy' } }), 'ids');
  check(() => generate(model, [prompt], { maxNewTokens: 0, strategy: { kind: 'greedy' } }), 'maxNewTokens');
  check(() => generate(model, [prompt], { maxNewTokens: 2, strategy: { ...sampling, temperature: 0 } }), 'temperature');
  check(() => generate(model, [prompt], { maxNewTokens: 2, strategy: { ...sampling, topP: 1.5 } }), 'topP');
});

test('sampling draws only tokens the logits processors allow', () => {
  const row = generate(model, [prompt], { maxNewTokens: 20, strategy: { ...sampling, topK: 0, topP: 1, temperature: 5 }, processing: { noRepeatNgramSize: 1 } }).rows[0];
  // With 1-grams banned, no token of the prompt or of the earlier output comes again.
  const seen = new Set(prompt);
  for (const token of row.newTokens) {
    assert.ok(!seen.has(token), `token ${token} repeated`);
    seen.add(token);
  }
  const banned = Float32Array.from([5, -Infinity, 4, -Infinity]);
  const random = new SeededRandom(3);
  for (let i = 0; i < 2000; i++) assert.ok([0, 2].includes(sampleToken(banned, 0, 4, { kind: 'sample', temperature: 100, topK: 0, topP: 1, seed: 3 }, random)));
});

test('log-probs are the model\'s own, before the logits processors', () => {
  const result = generate(model, [prompt], { maxNewTokens: 4, strategy: { kind: 'greedy' }, processing: { repetitionPenalty: 1.5, noRepeatNgramSize: 2 }, keepStepLogits: true, keepStepScores: true });
  const row = result.rows[0];
  row.newTokens.forEach((token, step) => {
    const logits = result.stepLogits![step];
    const max = Math.max(...logits);
    const logSumExp = max + Math.log(logits.reduce((sum, l) => sum + Math.exp(l - max), 0));
    assert.ok(Math.abs(row.logProbs[step] - (logits[token] - logSumExp)) < 1e-4, `step ${step}`);
    assert.notDeepEqual(result.stepScores![step], logits, `step ${step}: the processors changed the scores`);
  });
  const check = (processing: object, field: string) =>
    assert.throws(() => generate(model, [prompt], { maxNewTokens: 2, strategy: { kind: 'greedy' }, processing }), (e: unknown) => InvalidInputError.isInstance(e) && e.field === field);
  check({ repetitionPenalty: -1 }, 'repetitionPenalty');
  check({ noRepeatNgramSize: -2 }, 'noRepeatNgramSize');
  check({ minNewTokens: 0.5 }, 'minNewTokens');
});
