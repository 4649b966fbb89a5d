import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corpusRouge, rougeTokenize, scoreRouge, scoreRougeMulti, type RougeScore } from '../../../src/eval/metrics/rouge.js';
import { bootstrapRouge } from '../../../src/eval/metrics/rouge-bootstrap.js';
import { LegacyRandomState } from '../../../src/eval/metrics/numpy-legacy-random.js';
import { InvalidInputError } from '../../../src/errors.js';
import { assertNear, readMetricFixture } from '../../helpers/metric-fixtures.js';

interface RougeFixture {
  tool: string;
  types: string[];
  rows: { id: string; prediction: string; references: string[] }[];
  results: Record<'plain' | 'stem', { items: Record<string, RougeScore>[]; mean: Record<string, RougeScore> }>;
  tokenized: Record<'plain' | 'stem', [string, string[]][]>;
  bootstrap: { seed: number; confidence_interval: number; n_samples: number; rows: number; stem: boolean; result: Record<string, Record<'low' | 'mid' | 'high', RougeScore>> }[];
  numpy_randint: { seed: number; high: number; values: number[] }[];
}

const fixture = readMetricFixture<RougeFixture>('rouge.json');

function assertScoreNear(actual: RougeScore, expected: RougeScore, label: string): void {
  for (const measure of ['precision', 'recall', 'fmeasure'] as const) assertNear(actual[measure], expected[measure], `${label} ${measure}`);
}

test("the ROUGE tokenizer yields rouge-score's tokens, with and without stemming", () => {
  for (const variant of ['plain', 'stem'] as const) {
    for (const [text, tokens] of fixture.tokenized[variant]) assert.deepEqual(rougeTokenize(text, variant === 'stem'), tokens, `${variant}: ${JSON.stringify(text)}`);
  }
});

test("ROUGE-1/2/3/L/Lsum per row equal rouge-score's score_multi, with and without the stemmer", () => {
  assert.ok(fixture.rows.length > 90);
  for (const variant of ['plain', 'stem'] as const) {
    fixture.rows.forEach((row, i) => {
      const scores = scoreRougeMulti(row.references, row.prediction, { types: fixture.types, stem: variant === 'stem' });
      assert.deepEqual(Object.keys(scores), fixture.types);
      for (const type of fixture.types) assertScoreNear(scores[type], fixture.results[variant].items[i][type], `${variant} ${row.id} ${type}`);
    });
  }
});

test('corpus ROUGE averages the rows as rouge-score scores them', () => {
  const predictions = fixture.rows.map((r) => r.prediction);
  const references = fixture.rows.map((r) => r.references);
  for (const variant of ['plain', 'stem'] as const) {
    const result = corpusRouge(predictions, references, { types: fixture.types, stem: variant === 'stem' });
    for (const type of fixture.types) assertScoreNear(result.mean[type], fixture.results[variant].mean[type], `${variant} mean ${type}`);
    assert.equal(result.items.length, fixture.rows.length);
    assert.match(result.signature, new RegExp(`^nrefs:var\\|case:lc\\|tok:rouge-score\\|stem:${variant === 'stem' ? 'yes' : 'no'}\\|lsum:newline\\|version:`));
  }
});

test("numpy's legacy RandomState integers are reproduced draw for draw", () => {
  for (const { seed, high, values } of fixture.numpy_randint) {
    const random = new LegacyRandomState(seed);
    assert.deepEqual(values.map(() => random.randint(high)), values, `seed ${seed} high ${high}`);
  }
});

test("bootstrap intervals equal rouge-score's BootstrapAggregator after np.random.seed", () => {
  const perRow = fixture.rows.map((row) => scoreRougeMulti(row.references, row.prediction, { stem: true }));
  for (const expected of fixture.bootstrap) {
    const intervals = bootstrapRouge(perRow.slice(0, expected.rows), { seed: expected.seed, confidenceInterval: expected.confidence_interval, samples: expected.n_samples });
    assert.deepEqual(Object.keys(intervals), Object.keys(expected.result));
    for (const [type, bounds] of Object.entries(expected.result)) {
      for (const bound of ['low', 'mid', 'high'] as const) assertScoreNear(intervals[type][bound], bounds[bound], `seed ${expected.seed} ${type} ${bound}`);
    }
  }
});

test('ROUGE rejects unknown types and rows without references', () => {
  assert.throws(() => scoreRouge('a', 'a', { types: ['rougeW'] }), (e) => InvalidInputError.isInstance(e) && /unknown ROUGE type "rougeW"/.test(e.message));
  assert.throws(() => scoreRougeMulti([], 'a'), /needs at least one reference/);
  assert.throws(() => corpusRouge(['a'], [['a'], ['b']]), /2 reference lists for 1 predictions/);
  assert.throws(() => bootstrapRouge([], {}), /needs at least one row/);
  assert.throws(() => new LegacyRandomState(-1), /seed: must be an integer/);
});
