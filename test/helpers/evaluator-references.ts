import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** Values from the real tools, made by scripts/reference/evaluator_references.py. */
export interface EvaluatorReferences {
  levenshtein: { a: string; b: string; distance: number }[];
  json_schema: { schema: unknown; instance: unknown; valid: boolean }[];
  wilson: { successes: number; trials: number; confidence: number; low: number; high: number }[];
  normal_quantile: { p: number; z: number }[];
  bootstrap: { scores: number[]; confidence: number; low: number; high: number }[];
}

export const references = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'evaluators', 'references.json'), 'utf8')) as EvaluatorReferences;
