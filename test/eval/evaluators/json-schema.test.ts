import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../../../src/errors.js';
import { checkJsonSchema, validateJsonSchema } from '../../../src/eval/evaluators/json-schema.js';
import { references } from '../../helpers/evaluator-references.js';

test('verdicts equal the jsonschema package (Draft 7) on every reference case', () => {
  assert.ok(references.json_schema.length >= 30);
  for (const { schema, instance, valid } of references.json_schema) {
    checkJsonSchema(schema, 'schema');
    const violations = validateJsonSchema(schema, instance);
    assert.equal(violations.length === 0, valid, `${JSON.stringify(schema)} on ${JSON.stringify(instance)}: ${JSON.stringify(violations)}`);
  }
});

test('violations name the path inside the value', () => {
  const schema = { type: 'object', properties: { steps: { type: 'array', items: { type: 'object', required: ['name'] } } } };
  assert.deepEqual(validateJsonSchema(schema, { steps: [{ name: 'a' }, {}] }), [{ path: '$.steps[1]', message: 'must have the property "name"' }]);
  assert.deepEqual(validateJsonSchema({ additionalProperties: false }, { 'a b': 1 }), [{ path: '$["a b"]', message: 'is not an allowed property' }]);
});

test('unsupported keywords are refused with the field path, never silently ignored', () => {
  const cases: [unknown, RegExp][] = [
    [{ $ref: '#/definitions/x' }, /assert\[0\]\.value\.\$ref: the JSON Schema keyword "\$ref" is not supported/],
    [{ properties: { when: { type: 'string', format: 'date' } } }, /value\.properties\.when\.format: the JSON Schema keyword "format" is not supported/],
    [{ items: [{ type: 'string' }] }, /value\.items: the list \(tuple\) form of items is not supported/],
    [{ if: { type: 'string' }, then: { minLength: 1 } }, /value\.if: .*not supported/],
    [{ patternProperties: { '^x': {} } }, /value\.patternProperties/],
    [{ type: 'text' }, /value\.type: must be one of null, boolean/],
    [{ minimum: 1, exclusiveMinimum: true }, /value\.exclusiveMinimum: must be a number \(the draft-04 boolean form/],
    [{ pattern: '(' }, /value\.pattern: is not a valid regular expression/],
    [{ anyOf: [] }, /value\.anyOf: must be a non-empty list of schemas/],
    ['string', /value: a JSON schema must be an object or a boolean/],
  ];
  for (const [schema, pattern] of cases) {
    assert.throws(() => checkJsonSchema(schema, 'tests[0].assert[0].value'), (e: unknown) => InvalidInputError.isInstance(e) && pattern.test(e.message), JSON.stringify(schema));
  }
  // Annotations are accepted and do not change the verdict.
  checkJsonSchema({ $schema: 'http://json-schema.org/draft-07/schema#', title: 'T', description: 'D', examples: [1], type: 'integer' }, 'f');
});
