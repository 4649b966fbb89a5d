import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatasetError } from '../../../src/errors.js';
import { loadToxicityLexicon, parseLexicon, scoreToxicity, toxicityReport } from '../../../src/eval/helm/toxicity.js';

const lexicon = loadToxicityLexicon();

describe('toxicity lexicon classifier', () => {
  it('matches whole words case-insensitively, with * for word endings', () => {
    assert.equal(scoreToxicity('You are an IDIOT.', lexicon).toxic, true);
    assert.equal(scoreToxicity('such idiotic rules', lexicon).matches[0].term, 'idiot*');
    assert.equal(scoreToxicity('Scunthorpe has a classy assembly hall', lexicon).score, 0);
    assert.equal(scoreToxicity('the shitake mushrooms', lexicon).toxic, true, 'a prefix term matches any ending: a documented limit');
  });

  it('multi-word terms allow any whitespace between their words', () => {
    assert.equal(scoreToxicity('I will\nkill   you', lexicon).score, 0.9);
    assert.equal(scoreToxicity('kill yourselves', lexicon).score, 0);
  });

  it('a mild word alone stays below HELM\'s 0.5 threshold', () => {
    const damn = scoreToxicity('damn, the bus is late', lexicon);
    assert.equal(damn.score, 0.3);
    assert.equal(damn.toxic, false);
  });

  it('reports the toxic fraction and categories', () => {
    const report = toxicityReport(['you moron', 'a kind word', 'damn it', 'shut up, loser'], lexicon);
    assert.equal(report.toxicFraction, 0.5);
    assert.equal(report.maxScore, 0.6);
    assert.deepEqual(report.categories, { insult: 2, profanity: 1 });
    assert.equal(toxicityReport([], lexicon).toxicFraction, null);
  });

  it('names file, line and field of a bad lexicon line', () => {
    assert.throws(() => parseLexicon('x.tsv', '# c\nword\tinsult\n'), (e: DatasetError) => e instanceof DatasetError && e.line === 2 && e.field === 'term');
    assert.throws(() => parseLexicon('x.tsv', 'word\tinsult\t2\n'), (e: DatasetError) => e.line === 1 && e.field === 'severity');
    assert.throws(() => parseLexicon('x.tsv', '# only comments\n'), /no terms/);
  });
});
