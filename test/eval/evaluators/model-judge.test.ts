import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { InvalidInputError } from '../../../src/errors.js';
import { gradeWithRubric } from '../../../src/eval/evaluators/llm-rubric.js';
import { ModelJudge } from '../../../src/eval/evaluators/model-judge.js';
import { comparePairwise } from '../../../src/eval/evaluators/pairwise.js';
import { generate } from '../../../src/inference/generate.js';
import { BloomModel } from '../../../src/models/bloom/model.js';
import { applyAdapter } from '../../../src/peft/apply-adapter.js';
import { loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { referenceDir, repoRoot } from '../../helpers/paths.js';
import { writeTinyModelDir } from '../../helpers/tiny-model-dir.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-model-judge-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const dir = writeTinyModelDir(join(scratch, 'tiny'));
const model = BloomModel.load(dir, { backend: new TypeScriptBackend(), dtype: 'f32' });
const tokenizer = await loadTokenizer(dir);
const judge = new ModelJudge(model, tokenizer, 'tiny reference model');

// The tiny model's weights are random: its verdicts are arbitrary. These tests check the plumbing.
test('the answer is the greedy continuation of the encoded prompt, decoded', async () => {
  const prompt = 'The tutor explains that a word problem is a story.';
  const answer = await judge.complete(prompt, { maxTokens: 12 });
  const direct = generate(model, [tokenizer.encode(prompt)], { maxNewTokens: 12, strategy: { kind: 'greedy' } });
  assert.equal(answer, tokenizer.decode(direct.rows[0].newTokens, { skipSpecialTokens: true }));
  assert.ok(answer.length > 0);
  assert.equal(await judge.complete(prompt, { maxTokens: 12 }), answer, 'greedy answers repeat');
});

test('a positive temperature samples with the seed', async () => {
  const prompt = 'Two plus two is';
  const a = await judge.complete(prompt, { maxTokens: 16, temperature: 1, seed: 3 });
  assert.equal(await judge.complete(prompt, { maxTokens: 16, temperature: 1, seed: 3 }), a);
  const direct = generate(model, [tokenizer.encode(prompt)], { maxNewTokens: 16, strategy: { kind: 'sample', temperature: 1, topK: 0, topP: 1, seed: 3 } });
  assert.equal(a, tokenizer.decode(direct.rows[0].newTokens, { skipSpecialTokens: true }));
});

test('a stop string ends the answer before it', async () => {
  const prompt = 'The capital of Italy is';
  const full = await judge.complete(prompt, { maxTokens: 24 });
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 2);
  const cut = await judge.complete(prompt, { maxTokens: 24, stop: [stop] });
  assert.equal(cut, full.slice(0, full.indexOf(stop)));
});

test('an llm-rubric and a pairwise comparison run through the model judge and their answers are parsed', async () => {
  const rubric = await gradeWithRubric(judge, 'Rome', 'Names the capital of Italy', { completion: { maxTokens: 16 } });
  assert.ok(['pass', 'fail', 'error'].includes(rubric.status));
  // A random model rarely writes a verdict; when it does not, the outcome says so and quotes its answer.
  if (rubric.status === 'error') assert.match(rubric.reason, /^the judge's answer has no usable verdict \(.+\): ".*"$/s);
  else assert.ok(rubric.score >= 0 && rubric.score <= 1);
  const comparison = await comparePairwise(judge, 'Rome', 'Paris', { completion: { maxTokens: 16 } });
  assert.equal((comparison.ok ? comparison.outcome.judgeAnswers : comparison.judgeAnswers).length, 2);
  if (comparison.ok) assert.ok(['candidate', 'baseline', 'tie'].includes(comparison.outcome.winner));
  else assert.match(comparison.problem, /shown first: /);
});

test('a model with an adapter applied judges through the same path', async () => {
  const adaptedModel = applyAdapter(model, join(referenceDir, 'ref_a', 'lora_adapter'));
  const adapted = new ModelJudge(adaptedModel, tokenizer, 'tiny + LoRA');
  const prompt = 'The tutor explains';
  const direct = generate(adaptedModel, [tokenizer.encode(prompt)], { maxNewTokens: 8, strategy: { kind: 'greedy' } });
  assert.equal(await adapted.complete(prompt, { maxTokens: 8 }), tokenizer.decode(direct.rows[0].newTokens, { skipSpecialTokens: true }));
});

test('a tokenizer that is not the model\'s is refused with the offending id', async () => {
  const wrongTokenizer = await loadTokenizer(join(repoRoot, 'test', 'fixtures', 'tokenizer'));
  const mismatched = new ModelJudge(model, wrongTokenizer, 'mismatched');
  await assert.rejects(mismatched.complete('The tutor explains photosynthesis carefully'), (e: unknown) => InvalidInputError.isInstance(e) && /outside the model's vocabulary \[0, 512\)/.test(e.message));
});
