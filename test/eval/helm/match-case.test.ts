import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchCase } from '../../../src/eval/helm/match-case.js';
import { helmReference } from './reference-fixture.js';

describe('matchCase equals HELM match_case', () => {
  it('on every reference pair', () => {
    for (const c of helmReference.match_case) assert.equal(matchCase(c.source, c.target), c.result, `${c.source} / ${c.target}`);
  });

  it('keeps HELM\'s quirk: an apostrophe or space means "not all lower-case"', () => {
    assert.equal(matchCase("don't", 'Do Not'), 'Do Not');
    assert.equal(matchCase("DON'T", 'do not'), 'Do not');
    assert.equal(matchCase('he', 'SHE'), 'she');
    assert.equal(matchCase('HE', 'she'), 'SHE');
  });
});
