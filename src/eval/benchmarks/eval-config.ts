import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FieldReader } from '../../config/field-reader.js';
import { InvalidInputError } from '../../errors.js';
import { type BootstrapSettings, DEFAULT_BOOTSTRAP, bootstrapSettings } from './scoring.js';

/**
 * `tuneloop eval --config eval.yaml` for benchmarks: one model, its adapters, and the benchmarks to run
 * on each. Paths are relative to the file; every field is checked and errors name it. `model` and
 * `adapters` may be left to the command line (--model, --adapter).
 *
 *   model: models/demo
 *   adapters: [runs/tutor/history/adapter]   # the base runs too unless include_base: false
 *   benchmarks:
 *     - {benchmark: mmlu, shots: 5, subjects: [high_school_world_history], limit: 50}
 *     - {benchmark: superglue, tasks: [boolq, copa], data_dir: /data/superglue}
 */
export interface EvalConfig {
  /** Null when the file names none: `tuneloop eval --model DIR` gives it. */
  readonly model: string | null;
  readonly adapters: string[];
  /** Null when the file does not say: the base then runs only when there are no adapters. */
  readonly includeBase: boolean | null;
  readonly dtype: string;
  readonly backend: string;
  readonly batchSize: number;
  readonly maxLength: number;
  readonly cacheDir: string | undefined;
  readonly bootstrap: BootstrapSettings | null;
  readonly out: string | undefined;
  readonly benchmarks: readonly EvalBenchmark[];
}

export interface EvalBenchmark {
  /** A shipped suite's name, or a definition file's path. */
  readonly benchmark: string;
  readonly shots?: number;
  readonly subjects?: string[];
  readonly tasks?: string[];
  readonly limit?: number;
  readonly dataDir?: string;
  /** `benchmarks[i].data_dir in FILE`, for messages about that folder. */
  readonly dataDirOrigin?: string;
}

export function readEvalConfig(file: string): EvalConfig {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidInputError('--config', `cannot read ${file}: ${(error as Error).message}`);
  }
  const top = FieldReader.ofDocument(file, document);
  top.rejectUnknown(['model', 'adapters', 'include_base', 'dtype', 'backend', 'batch_size', 'max_length', 'cache_dir', 'cache', 'bootstrap', 'bootstrap_seed', 'out', 'benchmarks']);
  const path = (reader: FieldReader, field: string): string => {
    const value = reader.nonEmptyString(field);
    return isAbsolute(value) ? value : resolve(dirname(file), value);
  };
  const optionalPath = (reader: FieldReader, field: string): string | undefined => (reader.has(field) ? path(reader, field) : undefined);
  const adapters = (top.optionalStringList('adapters') ?? []).map((adapter) => (isAbsolute(adapter) ? adapter : resolve(dirname(file), adapter)));
  const cache = top.boolean('cache', true);
  return {
    model: top.has('model') ? path(top, 'model') : null,
    adapters,
    includeBase: top.has('include_base') ? top.boolean('include_base', false) : null,
    dtype: top.choice('dtype', ['fp32', 'bf16'] as const, 'fp32'),
    backend: top.choice('backend', ['auto', 'native', 'typescript'] as const, 'auto'),
    batchSize: top.number('batch_size', 8, { integer: true, min: 1 }),
    maxLength: top.number('max_length', 2048, { integer: true, min: 2 }),
    cacheDir: cache ? (optionalPath(top, 'cache_dir') ?? 'runs/cache/bench') : undefined,
    bootstrap: bootstrapSettings(top.number('bootstrap', DEFAULT_BOOTSTRAP.samples, { integer: true, min: 0 }), top.number('bootstrap_seed', DEFAULT_BOOTSTRAP.seed, { integer: true, min: 0 })),
    out: optionalPath(top, 'out'),
    benchmarks: top.list('benchmarks').map((b, i) => {
      b.rejectUnknown(['benchmark', 'shots', 'subjects', 'tasks', 'limit', 'data_dir']);
      const name = b.nonEmptyString('benchmark');
      return {
        benchmark: /^[A-Za-z0-9_-]+$/.test(name) ? name : path(b, 'benchmark'),
        shots: b.optionalNumber('shots', { integer: true, min: 0 }) ?? undefined,
        subjects: b.optionalStringList('subjects') ?? undefined,
        tasks: b.optionalStringList('tasks') ?? undefined,
        limit: b.optionalNumber('limit', { integer: true, min: 1 }) ?? undefined,
        dataDir: optionalPath(b, 'data_dir'),
        ...(b.has('data_dir') ? { dataDirOrigin: `benchmarks[${i}].data_dir in ${file}` } : {}),
      };
    }),
  };
}
