import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { type LogitsProcessing, bannedNgramTokens, processLogits, validateLogitsProcessing } from '../../src/inference/logits-processors.js';
import { repoRoot } from '../helpers/paths.js';

type Score = number | '-inf';
interface ProcessorFixture {
  input_ids: number[][];
  scores: number[][];
  eos_token_id: number;
  cases: { name: string; scores: Score[][] }[];
}

const fixture = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'generation', 'processors.json'), 'utf8')) as ProcessorFixture;

/** The settings each fixture case names, and the generated-token count its min_new_tokens cases imply. */
function settingsOf(name: string): { processing: LogitsProcessing; generated: number } {
  const value = Number(name.split(' ')[1]);
  if (name.startsWith('repetition_penalty')) return { processing: { repetitionPenalty: value }, generated: 0 };
  if (name.startsWith('no_repeat_ngram_size')) return { processing: { noRepeatNgramSize: value }, generated: 0 };
  const promptLength = Number(/after a prompt of (\d+)/.exec(name)![1]);
  return { processing: { minNewTokens: value }, generated: fixture.input_ids[0].length - promptLength };
}

for (const { name, scores: expected } of fixture.cases) {
  test(`${name}: every processed score equals Hugging Face's, bit for bit (padded row included)`, () => {
    const { processing, generated } = settingsOf(name);
    fixture.input_ids.forEach((sequence, b) => {
      const scores = Float32Array.from(fixture.scores[b]);
      processLogits(scores, sequence, generated, fixture.eos_token_id, processing);
      assert.deepEqual(Array.from(scores), expected[b].map((v) => (v === '-inf' ? -Infinity : v)), `row ${b}`);
    });
  });
}

test('no-repeat n-grams: pad tokens count, nothing is banned before n-1 tokens exist', () => {
  assert.deepEqual(bannedNgramTokens([3, 3, 3, 8, 3], 2), new Set([3, 8]));
  assert.deepEqual(bannedNgramTokens([5, 6, 5], 2), new Set([6]));
  assert.deepEqual(bannedNgramTokens([5, 6, 5], 3), new Set());
  assert.deepEqual(bannedNgramTokens([5, 6], 4), new Set());
  assert.deepEqual(bannedNgramTokens([5, 6, 5], 1), new Set([5, 6]));
});

test('bad settings throw InvalidInputError naming the option, or the caller\'s own name for it', () => {
  const check = (processing: LogitsProcessing, field: string, names?: Parameters<typeof validateLogitsProcessing>[1]) =>
    assert.throws(() => validateLogitsProcessing(processing, names), (e: unknown) => InvalidInputError.isInstance(e) && e.field === field);
  check({ repetitionPenalty: 0 }, 'repetitionPenalty');
  check({ repetitionPenalty: Number.NaN }, 'repetitionPenalty');
  check({ noRepeatNgramSize: 1.5 }, 'noRepeatNgramSize');
  check({ minNewTokens: -1 }, 'minNewTokens');
  check({ minNewTokens: -1 }, '--min-new-tokens', { repetitionPenalty: '--repetition-penalty', noRepeatNgramSize: '--no-repeat-ngram-size', minNewTokens: '--min-new-tokens' });
  validateLogitsProcessing({ repetitionPenalty: 1, noRepeatNgramSize: 0, minNewTokens: 0 });
});
