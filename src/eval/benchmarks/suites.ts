import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import { packageRoot } from './data-location.js';
import { type BenchmarkSuite, loadBenchmarkSuite } from './definition.js';

/** The folder of shipped definitions: benchmarks/ at the package root. */
export function shippedBenchmarksDir(): string {
  return join(packageRoot(), 'benchmarks');
}

/** The shipped suites, by name. */
export const SHIPPED_BENCHMARKS = ['mmlu', 'superglue', 'xsum', 'cnn_dailymail', 'wmt17', 'wmt17_translate'] as const;

/** A suite by shipped name (`mmlu`, `xsum`, ...) or by path to a YAML file, with the file's sha256. */
export function resolveSuite(nameOrPath: string, options: { dataDir?: string; dataDirOrigin?: string; environment?: NodeJS.ProcessEnv } = {}): { suite: BenchmarkSuite; sha256: string } {
  const shipped = join(shippedBenchmarksDir(), `${nameOrPath}.yaml`);
  const file = /^[A-Za-z0-9_-]+$/.test(nameOrPath) && existsSync(shipped) ? shipped : nameOrPath;
  if (!existsSync(file)) throw new InvalidInputError('benchmark', `"${nameOrPath}" is neither a shipped benchmark (${SHIPPED_BENCHMARKS.join(', ')}) nor a YAML file`);
  const suite = loadBenchmarkSuite(file, options);
  return { suite, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
}
