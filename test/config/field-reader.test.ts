import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FieldReader } from '../../src/config/field-reader.js';
import { InvalidInputError } from '../../src/errors.js';

const read = (document: unknown) => FieldReader.ofDocument('cfg.yaml', document);

/** Asserts `fn` throws an InvalidInputError whose message is exactly `message`. */
function throwsExactly(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => InvalidInputError.isInstance(e) && e.message === message, message);
}

test('a document that is not a mapping is refused with the file and the given detail', () => {
  throwsExactly(() => read([1, 2]), 'cfg.yaml: must be a YAML mapping');
  throwsExactly(() => FieldReader.ofDocument('s.yaml', 'text', 'must be a YAML mapping with a tests list'), 's.yaml: must be a YAML mapping with a tests list');
});

test('nested mappings and list items carry their dotted path into errors', () => {
  const root = read({ training: { epochs: 0 }, tasks: [{ name: 'a' }, { name: 7 }] });
  throwsExactly(() => root.child('training').number('epochs', 3, { min: 1 }), 'cfg.yaml: training.epochs: must be >= 1, got 0');
  const [first, second] = root.list('tasks');
  assert.equal(first.path, 'tasks[0]');
  assert.equal(first.nonEmptyString('name'), 'a');
  throwsExactly(() => second.nonEmptyString('name'), 'cfg.yaml: tasks[1].name: must be a non-empty string, got 7');
  assert.equal(second.where('train'), 'tasks[1].train');
});

test('an absent section reads as empty, a required one must be there', () => {
  const root = read({ data: null, bad: [1] });
  assert.deepEqual(root.child('data').keys(), []);
  assert.equal(root.child('missing').number('max_length', 256), 256);
  throwsExactly(() => root.requiredChild('data'), 'cfg.yaml: data: is required: a mapping');
  throwsExactly(() => root.child('bad'), 'cfg.yaml: bad: must be a mapping');
});

test('lists of mappings are required and non-empty, and each item must be a mapping', () => {
  throwsExactly(() => read({}).list('tasks'), 'cfg.yaml: tasks: is required: a non-empty list');
  throwsExactly(() => read({ tasks: [] }).list('tasks'), 'cfg.yaml: tasks: must be a non-empty list');
  throwsExactly(() => read({ tasks: [{}, 'x'] }).list('tasks'), 'cfg.yaml: tasks[1]: must be a mapping');
});

test('strings: required without a fallback, null counts as absent, empty only where allowed', () => {
  const r = read({ empty: '', nothing: null, number: 3 });
  assert.equal(r.string('empty'), '');
  assert.equal(r.string('nothing', 'x'), 'x');
  assert.equal(r.optionalString('nothing'), null);
  throwsExactly(() => r.string('absent'), 'cfg.yaml: absent: is required: a string');
  throwsExactly(() => r.optionalString('number'), 'cfg.yaml: number: must be a string, got 3');
  throwsExactly(() => r.nonEmptyString('empty'), 'cfg.yaml: empty: must be a non-empty string, got ""');
  throwsExactly(() => r.nonEmptyString('absent'), 'cfg.yaml: absent: is required: a non-empty string');
});

test('choices list the options and what was written', () => {
  const r = read({ schedule: 'cosine', format: 'xml' });
  assert.equal(r.choice('schedule', ['linear', 'cosine'] as const, 'linear'), 'cosine');
  assert.equal(r.choice('absent', ['linear', 'cosine'] as const, 'linear'), 'linear');
  throwsExactly(() => r.choice('format', ['csv', 'jsonl'] as const), 'cfg.yaml: format: must be one of csv, jsonl, got "xml"');
  throwsExactly(() => r.choice('absent', ['csv', 'jsonl'] as const), 'cfg.yaml: absent: is required: one of csv, jsonl');
});

test('numbers are checked for type, integrality and both kinds of bounds', () => {
  const r = read({ lr: 0, steps: 2.5, word: 'many', p: 1, alpha: 16 });
  throwsExactly(() => r.number('word', 1), 'cfg.yaml: word: must be a number, got "many"');
  throwsExactly(() => r.number('steps', 1, { integer: true }), 'cfg.yaml: steps: must be an integer, got 2.5');
  throwsExactly(() => r.number('lr', 1, { min: 0, exclusiveMin: true }), 'cfg.yaml: lr: must be > 0, got 0');
  throwsExactly(() => r.number('p', 0.5, { max: 1, exclusiveMax: true }), 'cfg.yaml: p: must be < 1, got 1');
  throwsExactly(() => r.number('alpha', 1, { max: 8 }), 'cfg.yaml: alpha: must be <= 8, got 16');
  assert.equal(r.number('p', 0.5, { min: 0, max: 1 }), 1);
  assert.equal(r.number('absent', 0.5), 0.5);
  assert.equal(r.optionalNumber('absent'), null);
  assert.equal(r.optionalNumber('alpha', { integer: true }), 16);
});

test('booleans must be true or false', () => {
  const r = read({ packing: true, yes: 'yes' });
  assert.equal(r.boolean('packing', false), true);
  assert.equal(r.boolean('absent', false), false);
  throwsExactly(() => r.boolean('yes', false), 'cfg.yaml: yes: must be true or false, got "yes"');
});

test('string lists: non-empty of non-empty strings, or possibly empty where a list may be', () => {
  const r = read({ targets: ['a', 'b'], none: [], blank: ['a', ''], mixed: ['a', 1], stop: [''] });
  assert.deepEqual(r.stringList('targets'), ['a', 'b']);
  assert.deepEqual(r.stringList('absent', ['query_key_value']), ['query_key_value']);
  assert.equal(r.optionalStringList('absent'), null);
  throwsExactly(() => r.stringList('none'), 'cfg.yaml: none: must be a non-empty list of non-empty strings');
  throwsExactly(() => r.stringList('blank'), 'cfg.yaml: blank: must be a non-empty list of non-empty strings');
  throwsExactly(() => r.stringList('absent'), 'cfg.yaml: absent: is required: a non-empty list of non-empty strings');
  assert.deepEqual(r.possiblyEmptyStringList('none'), []);
  assert.deepEqual(r.possiblyEmptyStringList('absent'), []);
  assert.deepEqual(r.possiblyEmptyStringList('stop'), ['']);
  throwsExactly(() => r.possiblyEmptyStringList('mixed'), 'cfg.yaml: mixed: must be a list of strings');
});

test('unknown fields are refused with the fields known at that level', () => {
  const r = read({ method: { type: 'lora', rank: 8 } });
  throwsExactly(() => r.child('method').rejectUnknown(['type', 'r']), 'cfg.yaml: method.rank: is not a known field (known here: type, r)');
  assert.doesNotThrow(() => r.rejectUnknown(['method']));
});

test('a list read from the file is a copy, so callers cannot change the parsed document', () => {
  const document = { targets: ['a'] };
  read(document).stringList('targets').push('b');
  assert.deepEqual(document.targets, ['a']);
});
