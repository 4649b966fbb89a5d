import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** Expected values written by scripts/reference/text_metrics_reference.py from the real sacreBLEU and rouge-score. */
export const metricFixturesDir = join(repoRoot, 'test', 'fixtures', 'metrics');

export function readMetricFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(metricFixturesDir, name), 'utf8')) as T;
}

/** A sacreBLEU fixture (bleu.json, chrf.json, ter.json): named line streams and cases that score them. */
export interface TextMetricFixture<Case> {
  tool: string;
  constructed: Record<string, (string | null)[]>;
  wmt17_files: Record<string, string>;
  cases: (Case & { name: string; options: Record<string, unknown>; hypotheses: string; references: string[] })[];
}

/** The lines of a WMT17 sample file, as sacreBLEU read them (the file ends with a newline). */
export function readLines(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '', `${path} ends with a newline`);
  return lines;
}

/** A case's hypotheses and, per hypothesis, its references (sacreBLEU's missing `null` entries dropped). */
export function caseInputs(fixture: TextMetricFixture<unknown>, c: { hypotheses: string; references: string[] }): { hypotheses: string[]; references: string[][] } {
  const source = (name: string): (string | null)[] => fixture.constructed[name] ?? readLines(join(metricFixturesDir, fixture.wmt17_files[name]));
  const hypotheses = source(c.hypotheses) as string[];
  const streams = c.references.map(source);
  const references = hypotheses.map((_, i) => streams.map((s) => s[i]).filter((r): r is string => r !== null));
  return { hypotheses, references };
}

/** sacreBLEU's signature (or a report line holding one) with its version field replaced by ours. */
export function withOurVersion(signature: string, version: string): string {
  return signature.replace(/version:[^|\s]*/, `version:${version}`);
}

/** |actual - expected| <= tolerance * max(1, |expected|). */
export function assertNear(actual: number, expected: number, label: string, tolerance = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${label}: ${actual} differs from ${expected}`);
}
