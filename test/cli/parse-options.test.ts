import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { parseOptions } from '../../src/cli/parse-options.js';

const options = { temperature: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean', default: false }, stop: { type: 'string', multiple: true } } as const;

function parse(args: string[], allowPositionals = false) {
  return parseOptions('generate', { args, options, allowPositionals, strict: true });
}

function rejects(args: string[], message: RegExp, allowPositionals = false): void {
  assert.throws(() => parse(args, allowPositionals), (e) => InvalidInputError.isInstance(e) && message.test(e.message), args.join(' '));
}

test('a negative number after an option is its value, in either form', () => {
  assert.deepEqual({ ...parse(['--temperature', '-1', '--seed', '-.5', '--json']).values }, { temperature: '-1', seed: '-.5', json: true });
  assert.equal(parse(['--temperature=-2e-3']).values.temperature, '-2e-3');
  assert.deepEqual(parse(['--stop', '-1', '--stop', 'x']).values.stop, ['-1', 'x']);
});

test('a dash-led value that is not a number needs the --flag=value form', () => {
  rejects(['--temperature', '--json'], /^--temperature: needs a value, but the next argument is "--json"; if that is the value, write --temperature=--json$/);
  assert.equal(parse(['--temperature=--json']).values.temperature, '--json');
});

test('mistakes name the flag as the user wrote it and point at the command help', () => {
  rejects(['--model', 'm'], /^--model: is not an option of tuneloop generate; tuneloop generate --help lists them$/);
  rejects(['-x'], /^-x: is not an option of tuneloop generate/);
  rejects(['--temperature'], /^--temperature: needs a value$/);
  rejects(['--json=yes'], /^--json: is a switch and takes no value, got "--json=yes"$/);
  rejects(['--seed', '1', '--seed', '2'], /^--seed: is given twice; give it once$/);
  rejects(['mmlu'], /^"mmlu": tuneloop generate takes no arguments besides its options; tuneloop generate --help lists them$/);
  assert.throws(
    () => parseOptions('eval', { args: ['--out', 'x'], options: { config: { type: 'string' } }, strict: true }, 'for an assertion suite'),
    /^InvalidInputError: --out: is not an option of tuneloop eval for an assertion suite;/,
  );
});

test('positionals, defaults and the -- terminator pass through', () => {
  const { values, positionals } = parse(['mmlu', '--json', '--', '--not-an-option'], true);
  assert.deepEqual(positionals, ['mmlu', '--not-an-option']);
  assert.equal(values.json, true);
  assert.equal(parse([]).values.json, false);
});
