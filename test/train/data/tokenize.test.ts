import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatasetError } from '../../../src/errors.js';
import { tokenizeExample, type TruncationWarning } from '../../../src/train/data/tokenize.js';
import { loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { repoRoot } from '../../helpers/paths.js';

const tokenizer = await loadTokenizer(join(repoRoot, 'test', 'fixtures', 'tokenizer'));
const eos = tokenizer.eosTokenId!;
const location = { file: 'data/train.jsonl', line: 12 };
const encode = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });

const prompt = 'What is 17 plus 25? Answer:';
const completion = ' 42';

test('completion-only labels: -100 on exactly the prompt tokens, then the completion and its EOS', () => {
  const { ids, labels } = tokenizeExample(tokenizer, prompt, completion, { location, maxLength: 64 });
  const promptIds = encode(prompt);
  const completionIds = [...encode(completion), eos];
  assert.deepEqual(ids, [...promptIds, ...completionIds]);
  assert.deepEqual(labels, [...promptIds.map(() => -100), ...completionIds]);
});

test('without completionOnly every token is a label; without appendEos there is no EOS', () => {
  const all = tokenizeExample(tokenizer, prompt, completion, { location, maxLength: 64, completionOnly: false });
  assert.deepEqual(all.labels, all.ids);
  const noEos = tokenizeExample(tokenizer, prompt, completion, { location, maxLength: 64, appendEos: false });
  assert.deepEqual(noEos.ids, [...encode(prompt), ...encode(completion)]);
});

test('truncation cuts the prompt from the left, keeps the completion, and warns with the location', () => {
  const promptIds = encode(prompt);
  const completionIds = [...encode(completion), eos];
  const maxLength = completionIds.length + 3;
  const warnings: TruncationWarning[] = [];
  const { ids, labels } = tokenizeExample(tokenizer, prompt, completion, { location, maxLength, onTruncate: (w) => warnings.push(w) });
  assert.deepEqual(ids, [...promptIds.slice(-3), ...completionIds]);
  assert.deepEqual(labels, [-100, -100, -100, ...completionIds]);
  assert.deepEqual(warnings, [
    { location, originalLength: promptIds.length + completionIds.length, maxLength, promptTokensCut: promptIds.length - 3, completionTokensCut: 0 },
  ]);
});

test('a completion longer than maxLength keeps the last prompt token and the start of the completion', () => {
  const longCompletion = ' The tutor explains the answer step by step, slowly and carefully.';
  const completionIds = encode(longCompletion);
  const maxLength = 5;
  const warnings: TruncationWarning[] = [];
  const { ids, labels } = tokenizeExample(tokenizer, prompt, longCompletion, { location, maxLength, onTruncate: (w) => warnings.push(w) });
  assert.deepEqual(ids, [encode(prompt).at(-1), ...completionIds.slice(0, 4)]);
  assert.deepEqual(labels, [-100, ...completionIds.slice(0, 4)]);
  assert.equal(warnings[0].completionTokensCut, completionIds.length + 1 - 4);
});

test("overLength 'refuse' throws a DatasetError at the record's location", () => {
  assert.throws(
    () => tokenizeExample(tokenizer, prompt, completion, { location, maxLength: 4, overLength: 'refuse' }),
    (error: unknown) =>
      DatasetError.isInstance(error) && error.line === 12 && /^data\/train\.jsonl:12: is \d+ tokens long, more than maxLength 4$/.test(error.message),
  );
});

test('an example with nothing to learn is a DatasetError', () => {
  // With no prompt, a one-token completion sits at position 0, whose label the model never predicts.
  const single = encode(completion);
  assert.equal(single.length, 1);
  assert.throws(
    () => tokenizeExample(tokenizer, '', completion, { location, maxLength: 8, appendEos: false }),
    (error: unknown) => DatasetError.isInstance(error) && error.line === 12 && /no token to learn/.test(error.message),
  );
});

test('maxLength below 2 is refused', () => {
  assert.throws(() => tokenizeExample(tokenizer, prompt, completion, { location, maxLength: 1 }), RangeError);
});
