import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collapseWhitespace, removeWhitespace, splitWhitespace, strip, stripEnd } from '../../../src/eval/metrics/whitespace.js';

test("whitespace follows Python's str.split: U+001C..U+001F and NEL split, BOM and zero-width space do not", () => {
  assert.deepEqual(splitWhitespace('\x1ca\x1db\x1ec\x1fd\x85e\u00a0f\u3000g\ufeffh\u200bi  '), ['a', 'b', 'c', 'd', 'e', 'f', 'g\ufeffh\u200bi']);
  assert.deepEqual(splitWhitespace(''), []);
  assert.deepEqual(splitWhitespace(' \t\n'), []);
  assert.equal(stripEnd('  a b \u2028\x85'), '  a b');
  assert.equal(strip('\u3000 a b \x1c'), 'a b');
  assert.equal(collapseWhitespace(' a \t b\n'), 'a b');
  assert.equal(removeWhitespace(' a \t b\n'), 'ab');
});
