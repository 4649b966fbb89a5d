import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generate } from '../../src/inference/generate.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { backendCases } from '../helpers/backends.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';

/** One Hugging Face `generate` run of scripts/reference/generation_reference.py. */
interface GenerationCase {
  name: string;
  prompts: number[][];
  eos_token_id: number;
  max_new_tokens: number;
  repetition_penalty: number;
  no_repeat_ngram_size: number;
  min_new_tokens: number;
  new_tokens: number[][];
  /** [step][row]: [token, processed score] wherever the processed score differs from the raw logit. */
  changed_scores: [number, number | '-inf'][][][];
}

/** Raw logits differ from Hugging Face's by up to about 1e-5 (float32 summation order). */
const SCORE_TOLERANCE = 1e-4;

const cases = await backendCases();
for (const which of ['a', 'b'] as const) {
  const fixture = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'generation', `ckpt_${which}.json`), 'utf8')) as { pad_token_id: number; generations: GenerationCase[] };
  for (const { name: backendName, backend, skipReason } of cases) {
    describe(`Hugging Face generate with logits processors, fixture ${which}, ${backendName} backend`, { skip: skipReason }, () => {
      const model = BloomModel.load(loadReference(which).checkpointDir, { backend: backend!, dtype: 'f32' });
      test('the fixture pads with the checkpoint\'s pad token, as tuneloop does', () => assert.equal(model.config.padTokenId, fixture.pad_token_id));
      for (const c of fixture.generations) {
        test(`${c.name}: the same tokens; the processed scores of the first steps agree`, () => {
          const result = generate(model, c.prompts, {
            maxNewTokens: c.max_new_tokens,
            strategy: { kind: 'greedy' },
            eosTokenId: c.eos_token_id,
            processing: { repetitionPenalty: c.repetition_penalty, noRepeatNgramSize: c.no_repeat_ngram_size, minNewTokens: c.min_new_tokens },
            keepStepLogits: true,
            keepStepScores: true,
          });
          result.rows.forEach((row, b) => {
            assert.deepEqual(row.newTokens, c.new_tokens[b], `row ${b}`);
            assert.equal(row.finishReason, row.newTokens.at(-1) === c.eos_token_id ? 'eos' : 'length', `row ${b}`);
          });
          const vocab = model.config.vocabSize;
          c.changed_scores.forEach((rows, step) => {
            rows.forEach((expected, b) => {
              const raw = result.stepLogits![step].subarray(b * vocab, (b + 1) * vocab);
              const scores = result.stepScores![step].subarray(b * vocab, (b + 1) * vocab);
              const changed = Array.from(scores.keys()).filter((t) => scores[t] !== raw[t]);
              assert.deepEqual(changed, expected.map(([t]) => t), `step ${step} row ${b}: changed tokens`);
              for (const [t, value] of expected) {
                if (value === '-inf') assert.equal(scores[t], -Infinity, `step ${step} row ${b} token ${t}`);
                else assert.ok(Math.abs(scores[t] - value) < SCORE_TOLERANCE, `step ${step} row ${b} token ${t}: ${scores[t]} vs ${value}`);
              }
            });
          });
        });
      }
    });
  }
}
