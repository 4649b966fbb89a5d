import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { checkAssertion, evaluateAssertion } from '../../../src/eval/evaluators/assertions.js';
import { defaultMetricRegistry } from '../../../src/eval/evaluators/metric-registry.js';
import { runSuite } from '../../../src/eval/evaluators/runner.js';
import { parseEvalSuite } from '../../../src/eval/evaluators/suite-config.js';
import { sentenceBleu } from '../../../src/eval/metrics/bleu.js';
import { sentenceChrf } from '../../../src/eval/metrics/chrf.js';
import { scoreRougeMulti } from '../../../src/eval/metrics/rouge.js';

const hypothesis = 'The cats were sitting on the mat near the door.';
const references = ['A cat sat on the mat by the door.', 'The cat is sitting on a mat next to the door.'];

test('the default registry holds BLEU, chrF and ROUGE, each equal to the metric function scaled to [0, 1]', () => {
  const metrics = defaultMetricRegistry();
  assert.deepEqual(metrics.names(), ['bleu', 'chrf', 'rouge-1', 'rouge-2', 'rouge-l', 'rouge-lsum']);
  assert.equal(metrics.get('bleu')!(hypothesis, references), sentenceBleu(hypothesis, references).score / 100);
  assert.equal(metrics.get('chrf')!(hypothesis, references), sentenceChrf(hypothesis, references).score / 100);
  const rouge = scoreRougeMulti(references, hypothesis);
  assert.equal(metrics.get('rouge-1')!(hypothesis, references), rouge.rouge1.fmeasure);
  assert.equal(metrics.get('rouge-2')!(hypothesis, references), rouge.rouge2.fmeasure);
  assert.equal(metrics.get('rouge-l')!(hypothesis, references), rouge.rougeL.fmeasure);
  assert.equal(metrics.get('rouge-lsum')!(hypothesis, references), rouge.rougeLsum.fmeasure);
  for (const name of metrics.names()) {
    assert.ok(Math.abs(metrics.get(name)!(references[0], [references[0]]) - 1) < 1e-12, `${name} of a reference against itself`);
    const score = metrics.get(name)!(hypothesis, references);
    assert.ok(score > 0 && score < 1, `${name} = ${score}`);
  }
});

test('a metric assertion passes at or above its threshold (default 0.5) and reports the score', async () => {
  const metrics = defaultMetricRegistry();
  const score = metrics.get('rouge-l')!(hypothesis, references);
  const grade = async (threshold?: number) => {
    const spec = { type: 'rouge-l', value: references, threshold, weight: 1, field: 'tests[0].assert[0]' };
    checkAssertion(spec, metrics);
    return evaluateAssertion(spec, { output: hypothesis, prompt: null, vars: {}, metrics });
  };
  const below = await grade(score + 0.01);
  assert.equal(below.status, 'fail');
  assert.equal(below.score, score);
  assert.match(below.reason, new RegExp(`^rouge-l ${score.toFixed(4)} < `));
  assert.equal((await grade(score)).status, 'pass');
  assert.equal((await grade()).status, score >= 0.5 ? 'pass' : 'fail');
});

test('a suite can name the metrics as assertion types', async () => {
  const metrics = defaultMetricRegistry();
  const suite = parseEvalSuite(
    parseYaml(`
tests:
  - output: "the cat sat on the mat"
    assert:
      - { type: bleu, value: "the cat sat on the mat", threshold: 0.99 }
      - { type: chrf, value: ["a dog", "the cat sat on a mat"], threshold: 0.5 }
      - { type: rouge-2, value: "a dog barked", threshold: 0.1 }
`),
    'suite.yaml',
    metrics,
  );
  const result = await runSuite(suite, { metrics });
  const outcomes = result.results[0].assertions.map((a) => a.status);
  assert.deepEqual(outcomes, ['pass', 'pass', 'fail']);
});
