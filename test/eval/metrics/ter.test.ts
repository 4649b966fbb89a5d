import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corpusTerFromStatistics, terSegmentStatistics, corpusTer, formatTer, sentenceTer, terEdits, type TerOptions } from '../../../src/eval/metrics/ter.js';
import { SIGNATURE_VERSION } from '../../../src/eval/metrics/signature.js';
import { assertNear, caseInputs, readMetricFixture, withOurVersion, type TextMetricFixture } from '../../helpers/metric-fixtures.js';

interface ExpectedTer {
  score: number;
  num_edits: number;
  ref_length: number;
  signature?: string;
  formatted?: string;
}

type TerCase = { corpus: ExpectedTer; sentences?: ExpectedTer[] };

const fixture = readMetricFixture<TextMetricFixture<TerCase>>('ter.json');

function optionsOf(sacrebleu: Record<string, unknown>): TerOptions {
  return {
    normalized: sacrebleu.normalized as boolean | undefined,
    noPunct: sacrebleu.no_punct as boolean | undefined,
    asianSupport: sacrebleu.asian_support as boolean | undefined,
    caseSensitive: sacrebleu.case_sensitive as boolean | undefined,
  };
}

test('corpus TER equals sacreBLEU: score, edits, reference length, signature, report line', () => {
  assert.ok(fixture.cases.length >= 10);
  for (const c of fixture.cases) {
    const { hypotheses, references } = caseInputs(fixture, c);
    const score = corpusTer(hypotheses, references, optionsOf(c.options));
    assertNear(score.score, c.corpus.score, c.name);
    assert.equal(score.numEdits, c.corpus.num_edits, `${c.name} edits`);
    assertNear(score.refLength, c.corpus.ref_length, `${c.name} ref_length`);
    assert.equal(score.signature, withOurVersion(c.corpus.signature!, SIGNATURE_VERSION), c.name);
    assert.equal(formatTer(score), withOurVersion(c.corpus.formatted!, SIGNATURE_VERSION), c.name);
  }
});

test('sentence TER equals sacreBLEU for every segment, shifts included', () => {
  let compared = 0;
  for (const c of fixture.cases) {
    if (!c.sentences) continue;
    const { hypotheses, references } = caseInputs(fixture, c);
    hypotheses.forEach((hypothesis, i) => {
      const score = sentenceTer(hypothesis, references[i], optionsOf(c.options));
      assert.equal(score.numEdits, c.sentences![i].num_edits, `${c.name} #${i} edits`);
      assertNear(score.score, c.sentences![i].score, `${c.name} #${i}`);
      compared++;
    });
  }
  assert.ok(compared > 400, `compared ${compared} sentences`);
});

test('a block shift counts as one edit', () => {
  // Moving "on the mat" to the end is one shift; word by word it would take six edits.
  assert.equal(terEdits('on the mat the cat sat'.split(' '), 'the cat sat on the mat'.split(' ')), 1);
  assert.equal(terEdits([], ['a', 'b']), 2);
  assert.equal(terEdits(['a', 'b'], []), 2);
});

test('corpus TER of per-segment statistics equals corpus TER of the texts, for a resample too', () => {
  const hypotheses = ['The cat sat on the mat.', 'It rained all day, said Ms. Smith.', 'A dog', ''];
  const references = [['The cat is on the mat.'], ['It was raining the whole day, Ms Smith said.', 'Rain all day.'], ['The dog barked.'], ['Nothing.']];
  const resample = [2, 0, 0, 3, 1];
  for (const options of [{}, { normalized: true }] as TerOptions[]) {
    const stats = terSegmentStatistics(hypotheses, references, options);
    assert.deepEqual(corpusTerFromStatistics(stats, options, references.map((r) => r.length)), corpusTer(hypotheses, references, options));
    const pick = <T>(list: readonly T[]) => resample.map((i) => list[i]);
    assert.deepEqual(corpusTerFromStatistics(pick(stats), options, pick(references).map((r) => r.length)), corpusTer(pick(hypotheses), pick(references), options));
  }
});
