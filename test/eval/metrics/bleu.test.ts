import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bleuSegmentStatistics, corpusBleu, corpusBleuFromStatistics, formatBleu, sentenceBleu, type BleuOptions, type BleuScore, type SmoothingMethod } from '../../../src/eval/metrics/bleu.js';
import { bleuTokenizer, BLEU_TOKENIZERS, type BleuTokenizerName } from '../../../src/eval/metrics/bleu-tokenizers.js';
import { SIGNATURE_VERSION } from '../../../src/eval/metrics/signature.js';
import { stripEnd } from '../../../src/eval/metrics/whitespace.js';
import { InvalidInputError } from '../../../src/errors.js';
import { assertNear, caseInputs, readMetricFixture, withOurVersion, type TextMetricFixture } from '../../helpers/metric-fixtures.js';

interface ExpectedBleu {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sys_len: number;
  ref_len: number;
  signature: string | null;
  formatted: string;
}

type BleuCase = { corpus: ExpectedBleu; sentence_signature?: string; sentences?: ExpectedBleu[] };

const fixture = readMetricFixture<TextMetricFixture<BleuCase>>('bleu.json');
const tokenizerFixture = readMetricFixture<{ tokenizers: Record<string, [string, string][]> }>('bleu-tokenizers.json');

function optionsOf(sacrebleu: Record<string, unknown>): BleuOptions {
  return {
    tokenize: sacrebleu.tokenize as BleuTokenizerName | undefined,
    lowercase: sacrebleu.lowercase as boolean | undefined,
    smoothMethod: sacrebleu.smooth_method as SmoothingMethod | undefined,
    smoothValue: (sacrebleu.smooth_value ?? undefined) as number | undefined,
  };
}

function assertBleuEqual(actual: BleuScore, expected: ExpectedBleu, label: string): void {
  assertNear(actual.score, expected.score, `${label} score`);
  assert.deepEqual(actual.counts, expected.counts, `${label} counts`);
  assert.deepEqual(actual.totals, expected.totals, `${label} totals`);
  expected.precisions.forEach((p, n) => assertNear(actual.precisions[n], p, `${label} precision ${n + 1}`));
  assertNear(actual.bp, expected.bp, `${label} bp`);
  assert.equal(actual.sysLen, expected.sys_len, `${label} sys_len`);
  assert.equal(actual.refLen, expected.ref_len, `${label} ref_len`);
}

test('each BLEU tokenizer splits text exactly as sacreBLEU does', () => {
  for (const name of BLEU_TOKENIZERS) {
    const tokenize = bleuTokenizer(name);
    const probes = tokenizerFixture.tokenizers[name];
    assert.ok(probes.length > 50);
    // The fixture holds tokenizer(text.rstrip()), as BLEU applies it.
    for (const [text, expected] of probes) assert.equal(tokenize(stripEnd(text)), expected, `${name}: ${JSON.stringify(text)}`);
  }
});

test('corpus BLEU equals sacreBLEU: score, counts, totals, precisions, bp, lengths, signature, report line', () => {
  assert.ok(fixture.cases.length >= 20);
  for (const c of fixture.cases) {
    const { hypotheses, references } = caseInputs(fixture, c);
    const score = corpusBleu(hypotheses, references, optionsOf(c.options));
    assertBleuEqual(score, c.corpus, c.name);
    assert.equal(score.signature, withOurVersion(c.corpus.signature!, SIGNATURE_VERSION), c.name);
    assert.equal(formatBleu(score), withOurVersion(c.corpus.formatted, SIGNATURE_VERSION), c.name);
  }
});

test('sentence BLEU (effective order) equals sacreBLEU for every segment', () => {
  let compared = 0;
  for (const c of fixture.cases) {
    if (!c.sentences) continue;
    const { hypotheses, references } = caseInputs(fixture, c);
    hypotheses.forEach((hypothesis, i) => {
      const score = sentenceBleu(hypothesis, references[i], optionsOf(c.options));
      assertBleuEqual(score, c.sentences![i], `${c.name} #${i}`);
      assert.equal(formatBleu(score, false), c.sentences![i].formatted, `${c.name} #${i}`);
      compared++;
    });
    // sacreBLEU's signature is read after its last sentence_score call, so it describes the last segment.
    const last = hypotheses.length - 1;
    assert.equal(sentenceBleu(hypotheses[last], references[last], optionsOf(c.options)).signature, withOurVersion(c.sentence_signature!, SIGNATURE_VERSION));
  }
  assert.ok(compared > 600, `compared ${compared} sentences`);
});

test('BLEU rejects unknown options and hypotheses without references', () => {
  assert.throws(() => corpusBleu(['a'], [['a']], { tokenize: 'moses' as BleuTokenizerName }), (e) => InvalidInputError.isInstance(e) && /tokenize: unknown tokenizer "moses"/.test(e.message));
  assert.throws(() => corpusBleu(['a'], [['a']], { smoothMethod: 'laplace' as SmoothingMethod }), /smooth: unknown smoothing method "laplace"/);
  assert.throws(() => corpusBleu(['a'], [['a']], { smoothMethod: 'exp', smoothValue: 1 }), /smooth: method "exp" takes no value/);
  assert.throws(() => corpusBleu(['a', 'b'], [['a'], []]), /references\[1\]: needs at least one reference/);
  assert.throws(() => corpusBleu(['a', 'b'], [['a']]), /1 reference lists for 2 hypotheses/);
});

test('corpus BLEU of per-segment statistics equals corpus BLEU of the texts, for a resample too', () => {
  const hypotheses = ['The cat sat on the mat.', 'It rained all day, said Ms. Smith.', 'A dog', ''];
  const references = [['The cat is on the mat.'], ['It was raining the whole day, Ms Smith said.', 'Rain all day.'], ['The dog barked.'], ['Nothing.']];
  const resample = [2, 0, 0, 3, 1];
  for (const options of [{}, { tokenize: 'intl', lowercase: true }] as BleuOptions[]) {
    const stats = bleuSegmentStatistics(hypotheses, references, options);
    assert.deepEqual(corpusBleuFromStatistics(stats, options, references.map((r) => r.length)), corpusBleu(hypotheses, references, options));
    const pick = <T>(list: readonly T[]) => resample.map((i) => list[i]);
    assert.deepEqual(corpusBleuFromStatistics(pick(stats), options, pick(references).map((r) => r.length)), corpusBleu(pick(hypotheses), pick(references), options));
  }
});
