import assert from 'node:assert/strict';
import { test } from 'node:test';
import { porterStem } from '../../../src/eval/metrics/porter-stemmer.js';
import { readMetricFixture } from '../../helpers/metric-fixtures.js';

const fixture = readMetricFixture<{ tool: string; pairs: [string, string][] }>('porter.json');

test("the Porter stemmer equals NLTK's PorterStemmer (NLTK_EXTENSIONS, as rouge-score uses it) on every word of the samples", () => {
  assert.match(fixture.tool, /NLTK_EXTENSIONS/);
  assert.ok(fixture.pairs.length > 3500, `${fixture.pairs.length} words`);
  const wrong = fixture.pairs.filter(([word, stem]) => porterStem(word) !== stem).map(([word, stem]) => `${word}: ${porterStem(word)} != ${stem}`);
  assert.deepEqual(wrong, []);
});

test('the Porter stemmer applies the paper and NLTK rules', () => {
  const examples: [string, string][] = [
    ['caresses', 'caress'],
    ['ponies', 'poni'],
    ['ties', 'tie'],
    ['hopping', 'hop'],
    ['filing', 'file'],
    ['happy', 'happi'],
    ['enjoy', 'enjoy'],
    ['relational', 'relat'],
    ['generalizations', 'gener'],
    ['skies', 'sky'],
    ['dying', 'die'],
  ];
  for (const [word, stem] of examples) assert.equal(porterStem(word), stem, word);
});
