import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PythonRandom } from '../../../src/eval/helm/python-random.js';
import { helmReference } from './reference-fixture.js';

describe('PythonRandom equals CPython random.Random seeded with a string', () => {
  for (const c of helmReference.random) {
    it(`seed ${JSON.stringify(c.seed.slice(0, 20))}${c.seed.length > 20 ? '...' : ''}`, () => {
      const rng = new PythonRandom(c.seed);
      assert.deepEqual(Array.from({ length: 5 }, () => rng.random()), c.random);
      assert.deepEqual(Array.from({ length: 32 }, (_, k) => rng.getrandbits(k + 1)), c.getrandbits);
      assert.deepEqual(Array.from({ length: 20 }, () => rng.randint(1, 3)), c.randint_1_3);
      assert.deepEqual(Array.from({ length: 10 }, (_, n) => rng.choice(Array.from({ length: n + 1 }, (_, i) => i))), c.choice_lengths);
      assert.deepEqual(Array.from({ length: 3 }, () => rng.uniform(0, 1)), c.uniform_0_1);
    });
  }

  it('the same seed gives the same draws; another seed other draws', () => {
    const draw = (seed: string) => {
      const rng = new PythonRandom(seed);
      return Array.from({ length: 8 }, () => rng.random());
    };
    assert.deepEqual(draw('id42'), draw('id42'));
    assert.notDeepEqual(draw('id42'), draw('id43'));
  });

  it('rejects empty choices and bad ranges', () => {
    const rng = new PythonRandom('x');
    assert.throws(() => rng.choice([]), /empty/);
    assert.throws(() => rng.randint(3, 1), /a <= b/);
    assert.throws(() => rng.getrandbits(33), /\[0, 32\]/);
  });
});
