import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitSentences, treebankTokenize, wordTokenize } from '../../../src/eval/helm/word-tokenize.js';
import { helmReference } from './reference-fixture.js';

describe('wordTokenize equals NLTK word_tokenize (Punkt without trained parameters)', () => {
  for (const c of helmReference.word_tokenize) {
    it(JSON.stringify(c.text.slice(0, 40)), () => assert.deepEqual(wordTokenize(c.text), c.tokens));
  }
});

describe('word tokenizer pieces', () => {
  it('splits clitics and the final period only', () => {
    assert.deepEqual(treebankTokenize("She's here, isn't she in St. Louis."), ['She', "'s", 'here', ',', 'is', "n't", 'she', 'in', 'St.', 'Louis', '.']);
  });

  it('ends sentences after . ? ! but not after initials or ellipses', () => {
    assert.deepEqual(splitSentences('J. Smith came. Why? Then... more'), ['J. Smith came.', 'Why?', 'Then... more']);
  });
});
