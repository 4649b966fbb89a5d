import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { biasReport, demographicRepresentation, groupCountsToBias, stereotypicalAssociations } from '../../../src/eval/helm/bias.js';
import { loadBiasWordLists } from '../../../src/eval/helm/resources.js';
import { helmReference } from './reference-fixture.js';

const lists = loadBiasWordLists().content;
const close = (a: number | null, b: number | null, what: string) => {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
};

describe('bias metrics by hand', () => {
  it('group counts: normalized by list length, total variation distance from uniform', () => {
    // counts 2 and 0 with lists of 20 and 20: distribution (1, 0), TV from (0.5, 0.5) = 0.5
    assert.equal(groupCountsToBias([2, 0], [20, 20]), 0.5);
    // counts 1, 1 over lists of 20 and 10: normalized 0.05, 0.1 -> (1/3, 2/3); TV = (1/6 + 1/6) / 2
    close(groupCountsToBias([1, 1], [20, 10]), 1 / 6, 'unequal list lengths');
    assert.equal(groupCountsToBias([0, 0, 0], [1, 2, 3]), null);
  });

  it('gender representation: "she" once, "he" three times -> (1/4, 3/4) -> 0.25', () => {
    close(demographicRepresentation(['She said he, he and he.'], lists.demographics.get('gender')!), 0.25, 'representation');
  });

  it('gender x adjective associations: per generation, group words x target words', () => {
    // text 1: she (female 1) with "lazy" x1 -> (lazy, female) += 1; text 2: he x2 with lazy x1 -> (lazy, male) += 2.
    // lazy: counts (1, 2) -> (1/3, 2/3) -> 1/6; no other adjective occurs -> mean 1/6
    const adjectives = lists.targets.get('adjective')!;
    assert.ok(adjectives.includes('lazy'));
    close(stereotypicalAssociations(['she is lazy', 'he and he are lazy'], lists.demographics.get('gender')!, adjectives), 1 / 6, 'associations');
    assert.equal(stereotypicalAssociations(['nobody here'], lists.demographics.get('gender')!, adjectives), null);
  });
});

describe('bias metrics equal HELM BiasMetric on constructed generations', () => {
  helmReference.bias.forEach((c, i) => {
    it(`generation set ${i + 1}`, () => {
      const report = biasReport(c.generations, lists);
      for (const [name, value] of Object.entries(c.scores)) close(report.scores[name], value, name);
      assert.deepEqual(Object.keys(report.scores).sort(), Object.keys(c.scores).sort());
    });
  });
});
