import { InvalidInputError } from '../../errors.js';
import { type AssertionOutcome, type AssertionSpec, passFail } from './assertion.js';
import { checkJsonSchema, validateJsonSchema } from './json-schema.js';
import { levenshteinDistance } from './levenshtein.js';

/**
 * Deterministic checks on the output text. Each may be negated with a `not-` prefix (`not-contains`),
 * which flips pass and fail. Checks compare text exactly as written: no trimming or case folding except
 * where the name says so (icontains).
 */
export interface StringEvaluator {
  /** Throws InvalidInputError naming `spec.field` when the value does not suit the check. */
  check(spec: AssertionSpec): void;
  evaluate(output: string, spec: AssertionSpec): AssertionOutcome;
}

/** promptfoo's default: pass within 5 edits. */
export const DEFAULT_LEVENSHTEIN_THRESHOLD = 5;

function requireString(spec: AssertionSpec): string {
  if (typeof spec.value !== 'string') throw new InvalidInputError(`${spec.field}.value`, `${spec.type} needs a string value`);
  return spec.value;
}

function requireStringList(spec: AssertionSpec): string[] {
  const v = spec.value;
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
    throw new InvalidInputError(`${spec.field}.value`, `${spec.type} needs a non-empty list of strings`);
  }
  return v as string[];
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

export const STRING_EVALUATORS: Record<string, StringEvaluator> = {
  equals: {
    check: requireString,
    evaluate: (output, spec) => {
      const expected = spec.value as string;
      return passFail(output === expected, output === expected ? 'the output equals the expected text' : `the output ${quote(output)} is not ${quote(expected)}`);
    },
  },
  contains: {
    check: requireString,
    evaluate: (output, spec) => {
      const needle = spec.value as string;
      const found = output.includes(needle);
      return passFail(found, `the output ${found ? 'contains' : 'does not contain'} ${quote(needle)}`);
    },
  },
  icontains: {
    check: requireString,
    evaluate: (output, spec) => {
      const needle = spec.value as string;
      const found = output.toLowerCase().includes(needle.toLowerCase());
      return passFail(found, `the output ${found ? 'contains' : 'does not contain'} ${quote(needle)} (ignoring case)`);
    },
  },
  'contains-any': {
    check: requireStringList,
    evaluate: (output, spec) => {
      const found = (spec.value as string[]).filter((needle) => output.includes(needle));
      return passFail(found.length > 0, found.length > 0 ? `the output contains ${quote(found[0])}` : `the output contains none of ${JSON.stringify(spec.value)}`);
    },
  },
  'contains-all': {
    check: requireStringList,
    evaluate: (output, spec) => {
      const needles = spec.value as string[];
      const missing = needles.filter((needle) => !output.includes(needle));
      // Partial credit: the share of the strings that were found.
      const score = (needles.length - missing.length) / needles.length;
      return passFail(missing.length === 0, missing.length === 0 ? 'the output contains every string' : `the output lacks ${missing.map(quote).join(', ')}`, score);
    },
  },
  regex: {
    check: (spec) => {
      const pattern = requireString(spec);
      try {
        new RegExp(pattern);
      } catch (error) {
        throw new InvalidInputError(`${spec.field}.value`, `is not a valid regular expression: ${(error as Error).message}`);
      }
    },
    evaluate: (output, spec) => {
      const matched = new RegExp(spec.value as string).test(output);
      return passFail(matched, `the output ${matched ? 'matches' : 'does not match'} /${spec.value as string}/`);
    },
  },
  levenshtein: {
    check: (spec) => {
      requireString(spec);
      if (spec.threshold !== undefined && !(Number.isInteger(spec.threshold) && spec.threshold >= 0)) {
        throw new InvalidInputError(`${spec.field}.threshold`, 'levenshtein needs a whole number of edits >= 0');
      }
    },
    evaluate: (output, spec) => {
      const expected = spec.value as string;
      const limit = spec.threshold ?? DEFAULT_LEVENSHTEIN_THRESHOLD;
      const distance = levenshteinDistance(output, expected);
      const longest = Math.max(Array.from(output).length, Array.from(expected).length, 1);
      // The score is the similarity 1 - distance / longer length; pass/fail follows the edit limit.
      return passFail(distance <= limit, `${distance} edit${distance === 1 ? '' : 's'} from ${quote(expected)} (limit ${limit})`, 1 - distance / longest);
    },
  },
  'is-json': {
    check: (spec) => {
      if (spec.value !== undefined) checkJsonSchema(spec.value, `${spec.field}.value`);
    },
    evaluate: (output, spec) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(output);
      } catch (error) {
        return passFail(false, `the output is not JSON: ${(error as Error).message}`);
      }
      if (spec.value === undefined) return passFail(true, 'the output is JSON');
      const violations = validateJsonSchema(spec.value, parsed);
      if (violations.length === 0) return passFail(true, 'the output is JSON matching the schema');
      const shown = violations.slice(0, 3).map((v) => `${v.path} ${v.message}`);
      return passFail(false, `the output breaks the schema: ${shown.join('; ')}${violations.length > 3 ? `; and ${violations.length - 3} more` : ''}`);
    },
  },
};
