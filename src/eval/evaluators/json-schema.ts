import { InvalidInputError } from '../../errors.js';
import { canonicalJson } from './canonical-json.js';

/**
 * A JSON Schema validator for the subset of draft 2020-12 / draft-07 that output checks need. No
 * validator library is a project dependency, so this one supports these keywords and refuses every
 * other keyword with an error naming it, so that a schema never silently checks less than it says.
 *
 * Validation keywords:
 *   any type:  type (a name or a list of names), enum, const, allOf, anyOf, oneOf, not
 *   numbers:   minimum, maximum, exclusiveMinimum, exclusiveMaximum (numeric form), multipleOf
 *   strings:   minLength, maxLength (in code points), pattern (ECMAScript syntax, unanchored, `u` flag)
 *   arrays:    items (one schema for every item), minItems, maxItems, uniqueItems, contains
 *   objects:   properties, required, additionalProperties (boolean or schema), propertyNames,
 *              minProperties, maxProperties
 * Annotations, accepted and ignored: $schema, $id, $comment, title, description, default, examples,
 * readOnly, writeOnly, deprecated.
 * Refused: $ref and $defs/definitions, patternProperties, dependencies/dependentRequired/dependentSchemas,
 * if/then/else, prefixItems and the list form of items, additionalItems, unevaluated*, contentEncoding,
 * format (an annotation by default elsewhere; refused here so nobody believes it is checked), and
 * anything else not listed. `true` and `false` are accepted as schemas.
 */

const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'readOnly', 'writeOnly', 'deprecated']);
const TYPE_NAMES = ['null', 'boolean', 'object', 'array', 'number', 'integer', 'string'] as const;
type TypeName = (typeof TYPE_NAMES)[number];

const NON_NEGATIVE_INTEGER_KEYWORDS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties'];
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'];
const SCHEMA_KEYWORDS = ['not', 'items', 'contains', 'propertyNames'];
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf'];
const OTHER_KEYWORDS = ['type', 'enum', 'const', 'multipleOf', 'pattern', 'uniqueItems', 'required', 'properties', 'additionalProperties'];
const SUPPORTED = new Set([...NON_NEGATIVE_INTEGER_KEYWORDS, ...NUMBER_KEYWORDS, ...SCHEMA_KEYWORDS, ...SCHEMA_LIST_KEYWORDS, ...OTHER_KEYWORDS]);

export interface SchemaViolation {
  /** Where in the checked value, e.g. `$.steps[2].name`. */
  readonly path: string;
  readonly message: string;
}

/**
 * Throws InvalidInputError naming `field` and the keyword's place in the schema (`field.properties.age.type`)
 * when the schema is malformed or uses a keyword outside the supported subset.
 */
export function checkJsonSchema(schema: unknown, field: string): void {
  if (typeof schema === 'boolean') return;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new InvalidInputError(field, 'a JSON schema must be an object or a boolean');
  const s = schema as Record<string, unknown>;
  const fail = (keyword: string, detail: string): never => {
    throw new InvalidInputError(`${field}.${keyword}`, detail);
  };
  for (const [keyword, value] of Object.entries(s)) {
    if (ANNOTATIONS.has(keyword)) continue;
    if (!SUPPORTED.has(keyword)) fail(keyword, `the JSON Schema keyword "${keyword}" is not supported (see src/eval/evaluators/json-schema.ts for the supported subset)`);
    if (NON_NEGATIVE_INTEGER_KEYWORDS.includes(keyword) && !(Number.isInteger(value) && (value as number) >= 0)) fail(keyword, 'must be a non-negative integer');
    if (NUMBER_KEYWORDS.includes(keyword) && !(typeof value === 'number' && Number.isFinite(value))) fail(keyword, 'must be a number (the draft-04 boolean form of exclusiveMinimum/exclusiveMaximum is not supported)');
    if (SCHEMA_KEYWORDS.includes(keyword)) {
      if (keyword === 'items' && Array.isArray(value)) fail(keyword, 'the list (tuple) form of items is not supported; give one schema for every item');
      checkJsonSchema(value, `${field}.${keyword}`);
    }
    if (SCHEMA_LIST_KEYWORDS.includes(keyword)) {
      if (!Array.isArray(value) || value.length === 0) fail(keyword, 'must be a non-empty list of schemas');
      (value as unknown[]).forEach((sub, i) => checkJsonSchema(sub, `${field}.${keyword}[${i}]`));
    }
  }
  if ('type' in s) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (types.length === 0 || !types.every((t) => TYPE_NAMES.includes(t as TypeName))) fail('type', `must be one of ${TYPE_NAMES.join(', ')}, or a list of them`);
  }
  if ('enum' in s && (!Array.isArray(s.enum) || s.enum.length === 0)) fail('enum', 'must be a non-empty list');
  if ('multipleOf' in s && !(typeof s.multipleOf === 'number' && s.multipleOf > 0)) fail('multipleOf', 'must be a number > 0');
  if ('pattern' in s) {
    if (typeof s.pattern !== 'string') fail('pattern', 'must be a string');
    try {
      new RegExp(s.pattern as string, 'u');
    } catch (error) {
      fail('pattern', `is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  if ('uniqueItems' in s && typeof s.uniqueItems !== 'boolean') fail('uniqueItems', 'must be true or false');
  if ('required' in s && !(Array.isArray(s.required) && s.required.every((r) => typeof r === 'string'))) fail('required', 'must be a list of property names');
  if ('properties' in s) {
    if (typeof s.properties !== 'object' || s.properties === null || Array.isArray(s.properties)) fail('properties', 'must map property names to schemas');
    for (const [name, sub] of Object.entries(s.properties as object)) checkJsonSchema(sub, `${field}.properties.${name}`);
  }
  if ('additionalProperties' in s) checkJsonSchema(s.additionalProperties, `${field}.additionalProperties`);
}

/** The ways `value` breaks `schema` (empty when it conforms). The schema must have passed checkJsonSchema. */
export function validateJsonSchema(schema: unknown, value: unknown): SchemaViolation[] {
  const violations: SchemaViolation[] = [];
  validate(schema, value, '$', violations);
  return violations;
}

function validate(schema: unknown, value: unknown, path: string, out: SchemaViolation[]): void {
  if (schema === true) return;
  if (schema === false) {
    out.push({ path, message: 'no value is allowed here (schema false)' });
    return;
  }
  const s = schema as Record<string, unknown>;
  const add = (message: string) => out.push({ path, message });

  if (s.type !== undefined) {
    const types = (Array.isArray(s.type) ? s.type : [s.type]) as TypeName[];
    if (!types.some((t) => hasType(value, t))) add(`must be ${types.join(' or ')}, got ${typeOf(value)}`);
  }
  if (s.enum !== undefined && !(s.enum as unknown[]).some((option) => jsonEqual(option, value))) add(`must be one of ${JSON.stringify(s.enum)}`);
  if ('const' in s && !jsonEqual(s.const, value)) add(`must equal ${JSON.stringify(s.const)}`);

  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) add(`must be >= ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) add(`must be <= ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) add(`must be > ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) add(`must be < ${s.exclusiveMaximum}`);
    if (typeof s.multipleOf === 'number' && !Number.isInteger(value / s.multipleOf)) add(`must be a multiple of ${s.multipleOf}`);
  }
  if (typeof value === 'string') {
    const length = Array.from(value).length;
    if (typeof s.minLength === 'number' && length < s.minLength) add(`must have at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && length > s.maxLength) add(`must have at most ${s.maxLength} characters`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) add(`must match /${s.pattern}/`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) add(`must have at least ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) add(`must have at most ${s.maxItems} items`);
    if (s.uniqueItems === true && new Set(value.map(canonicalJson)).size !== value.length) add('must not repeat an item');
    if (s.items !== undefined) value.forEach((item, i) => validate(s.items, item, `${path}[${i}]`, out));
    if (s.contains !== undefined && !value.some((item) => validateJsonSchema(s.contains, item).length === 0)) add('must contain an item matching the "contains" schema');
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (typeof s.minProperties === 'number' && keys.length < s.minProperties) add(`must have at least ${s.minProperties} properties`);
    if (typeof s.maxProperties === 'number' && keys.length > s.maxProperties) add(`must have at most ${s.maxProperties} properties`);
    for (const name of (s.required as string[] | undefined) ?? []) if (!(name in value)) add(`must have the property "${name}"`);
    const properties = (s.properties as Record<string, unknown> | undefined) ?? {};
    for (const key of keys) {
      const childPath = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      if (Object.hasOwn(properties, key)) validate(properties[key], value[key], childPath, out);
      else if (s.additionalProperties !== undefined) {
        if (s.additionalProperties === false) out.push({ path: childPath, message: 'is not an allowed property' });
        else validate(s.additionalProperties, value[key], childPath, out);
      }
      if (s.propertyNames !== undefined && validateJsonSchema(s.propertyNames, key).length > 0) out.push({ path: childPath, message: 'has a name the "propertyNames" schema rejects' });
    }
  }

  if (s.allOf !== undefined) for (const sub of s.allOf as unknown[]) validate(sub, value, path, out);
  if (s.anyOf !== undefined && !(s.anyOf as unknown[]).some((sub) => validateJsonSchema(sub, value).length === 0)) add('must match at least one schema in anyOf');
  if (s.oneOf !== undefined) {
    const matching = (s.oneOf as unknown[]).filter((sub) => validateJsonSchema(sub, value).length === 0).length;
    if (matching !== 1) add(`must match exactly one schema in oneOf, matches ${matching}`);
  }
  if (s.not !== undefined && validateJsonSchema(s.not, value).length === 0) add('must not match the "not" schema');
}

function hasType(value: unknown, type: TypeName): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return Number.isInteger(value);
    case 'string':
      return typeof value === 'string';
  }
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
