import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corpusChrfFromStatistics, chrfSegmentStatistics, corpusChrf, formatChrf, sentenceChrf, type ChrfOptions } from '../../../src/eval/metrics/chrf.js';
import { SIGNATURE_VERSION } from '../../../src/eval/metrics/signature.js';
import { assertNear, caseInputs, readMetricFixture, withOurVersion, type TextMetricFixture } from '../../helpers/metric-fixtures.js';

type ChrfCase = { corpus: { score: number; name: string; signature: string; formatted: string }; sentences?: number[] };

const fixture = readMetricFixture<TextMetricFixture<ChrfCase>>('chrf.json');

function optionsOf(sacrebleu: Record<string, unknown>): ChrfOptions {
  return {
    charOrder: sacrebleu.char_order as number | undefined,
    wordOrder: sacrebleu.word_order as number | undefined,
    beta: sacrebleu.beta as number | undefined,
    lowercase: sacrebleu.lowercase as boolean | undefined,
    whitespace: sacrebleu.whitespace as boolean | undefined,
    epsSmoothing: sacrebleu.eps_smoothing as boolean | undefined,
  };
}

test('corpus chrF and chrF++ equal sacreBLEU: score, name, signature, report line', () => {
  assert.ok(fixture.cases.length >= 10);
  for (const c of fixture.cases) {
    const { hypotheses, references } = caseInputs(fixture, c);
    const score = corpusChrf(hypotheses, references, optionsOf(c.options));
    assertNear(score.score, c.corpus.score, c.name);
    assert.equal(score.name, c.corpus.name, c.name);
    assert.equal(score.signature, withOurVersion(c.corpus.signature, SIGNATURE_VERSION), c.name);
    assert.equal(formatChrf(score), withOurVersion(c.corpus.formatted, SIGNATURE_VERSION), c.name);
  }
});

test('sentence chrF and chrF++ equal sacreBLEU for every segment', () => {
  let compared = 0;
  for (const c of fixture.cases) {
    if (!c.sentences) continue;
    const { hypotheses, references } = caseInputs(fixture, c);
    hypotheses.forEach((hypothesis, i) => {
      assertNear(sentenceChrf(hypothesis, references[i], optionsOf(c.options)).score, c.sentences![i], `${c.name} #${i}`);
      compared++;
    });
  }
  assert.ok(compared > 700, `compared ${compared} sentences`);
});

test('chrF rejects orders that are not non-negative integers', () => {
  assert.throws(() => corpusChrf(['a'], [['a']], { wordOrder: -1 }), /wordOrder: must be a non-negative integer, got -1/);
  assert.throws(() => corpusChrf(['a'], [['a']], { charOrder: 0, wordOrder: 0 }), /cannot both be 0/);
});

test('corpus chrF of per-segment statistics equals corpus chrF of the texts, for a resample too', () => {
  const hypotheses = ['The cat sat on the mat.', 'It rained all day, said Ms. Smith.', 'A dog', ''];
  const references = [['The cat is on the mat.'], ['It was raining the whole day, Ms Smith said.', 'Rain all day.'], ['The dog barked.'], ['Nothing.']];
  const resample = [2, 0, 0, 3, 1];
  for (const options of [{}, { wordOrder: 2 }] as ChrfOptions[]) {
    const stats = chrfSegmentStatistics(hypotheses, references, options);
    assert.deepEqual(corpusChrfFromStatistics(stats, options, references.map((r) => r.length)), corpusChrf(hypotheses, references, options));
    const pick = <T>(list: readonly T[]) => resample.map((i) => list[i]);
    assert.deepEqual(corpusChrfFromStatistics(pick(stats), options, pick(references).map((r) => r.length)), corpusChrf(pick(hypotheses), pick(references), options));
  }
});
