import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../errors.js';
import { formatResultsTable } from '../../eval/benchmarks/report.js';
import type { BenchmarkResults } from '../../eval/benchmarks/runner.js';
import { type BootstrapSettings, DEFAULT_BOOTSTRAP } from '../../eval/benchmarks/scoring.js';
import { bootstrapSettings, loadModelAndTokenizer, runBenchFromOptions, writeResults } from './bench.js';
import { ASSERTION_SUITE_HELP, runAssertionSuite } from './evaluate.js';

export const EVAL_HELP = `tuneloop eval: evaluate a model from a YAML file: benchmarks, or an assertion test suite

Usage:
  tuneloop eval --config eval.yaml [--out FILE] [--no-cache]
  tuneloop eval --config suite.yaml [--model DIR [--adapter DIR]] [--judge-endpoint URL --judge-model NAME] [--json]

The file's top-level keys decide what runs: a file with tests: is an assertion suite, any other a
benchmark run. tuneloop evaluate is the same command.

A benchmark run loads the model once; each benchmark runs for the base model and every adapter listed.

eval.yaml (paths relative to the file):
  model: models/bloom-560m
  adapters: [runs/history/adapter, runs/maths/adapter]   # optional
  include_base: true          # evaluate the base model too (default: only when no adapters)
  dtype: fp32                 # fp32 | bf16
  backend: auto               # auto | native | typescript
  batch_size: 8
  max_length: 2048
  cache_dir: runs/cache/bench # omit cache: false to keep the cache on
  bootstrap: 1000             # resamples per metric interval (0: none); bootstrap_seed: 1234
  out: runs/eval/results.json
  benchmarks:
    - benchmark: mmlu         # a shipped name or a definition file
      shots: 5
      subjects: [high_school_us_history, prehistory]
      limit: 100
    - benchmark: superglue
      tasks: [boolq, cb, copa]
    - benchmark: my-quiz.yaml
      data_dir: data/quiz

Options for a benchmark run:
  --config FILE          the YAML above (required)
  --out FILE             overrides the file's out
  --no-cache             neither read nor write cached model outputs

${ASSERTION_SUITE_HELP}

Examples:
  tuneloop eval --config eval.yaml --out runs/eval/results.json
  tuneloop eval --config configs/evaluators/tutor.yaml
  tuneloop eval --config configs/evaluators/tutor.yaml --model models/demo --adapter runs/tutor/history
  tuneloop eval --config suite.yaml --judge-endpoint http://localhost:8000/v1 --judge-model qwen2.5-7b-instruct --json`;

type Json = Record<string, unknown>;

/**
 * Runs the file named by --config: an assertion suite when it has a top-level `tests:` key, else a
 * benchmark run. Returns the exit code.
 */
export async function runEval(argv: string[]): Promise<number> {
  const { values: peeked } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: false, allowPositionals: true });
  if (typeof peeked.config === 'string' && isAssertionSuite(peeked.config)) return runAssertionSuite(argv);
  await runBenchmarks(argv);
  return 0;
}

/** True when the file is a YAML mapping with `tests:`; an unreadable file is left to the runner that reports it. */
function isAssertionSuite(file: string): boolean {
  try {
    const json: unknown = parseYaml(readFileSync(file, 'utf8'));
    return typeof json === 'object' && json !== null && !Array.isArray(json) && 'tests' in json;
  } catch {
    return false;
  }
}

async function runBenchmarks(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, out: { type: 'string' }, 'no-cache': { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.config) throw new InvalidInputError('--config', 'is required: the eval YAML file');
  const config = readEvalConfig(values.config);
  const loaded = await loadModelAndTokenizer(config);
  const results: BenchmarkResults[] = [];
  for (const b of config.benchmarks) {
    const result = await runBenchFromOptions(
      { ...config, ...b, cacheDir: values['no-cache'] ? undefined : config.cacheDir },
      loaded,
    );
    process.stdout.write(`${formatResultsTable(result)}\n\n`);
    results.push(result);
  }
  const out = values.out ?? config.out;
  if (out) writeResults(out, { format: 'tuneloop-eval-results', formatVersion: 1, config: values.config, benchmarks: results });
}

interface EvalConfig {
  model: string;
  adapters: string[];
  includeBase: boolean;
  dtype: string;
  backend: string;
  batchSize: number;
  maxLength: number;
  cacheDir: string | undefined;
  bootstrap: BootstrapSettings | null;
  out: string | undefined;
  benchmarks: { benchmark: string; shots?: number; subjects?: string[]; tasks?: string[]; limit?: number; dataDir?: string }[];
}

function readEvalConfig(file: string): EvalConfig {
  let json: unknown;
  try {
    json = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidInputError('--config', `cannot read ${file}: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidInputError(file, 'must be a YAML mapping');
  const fail = (field: string, detail: string): never => {
    throw new InvalidInputError(`${file}: ${field}`, detail);
  };
  const top = json as Json;
  const known = ['model', 'adapters', 'include_base', 'dtype', 'backend', 'batch_size', 'max_length', 'cache_dir', 'cache', 'bootstrap', 'bootstrap_seed', 'out', 'benchmarks'];
  for (const key of Object.keys(top)) if (!known.includes(key)) fail(key, `is not a known field (known: ${known.join(', ')})`);
  const path = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || value === '') return fail(field, 'must be a non-empty string');
    return isAbsolute(value) ? value : resolve(dirname(file), value);
  };
  const integer = (value: unknown, field: string, fallback: number | undefined, min: number): number | undefined => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) return fail(field, `must be an integer >= ${min}`);
    return value;
  };
  const strings = (value: unknown, field: string): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) return fail(field, 'must be a list of non-empty strings');
    return value as string[];
  };
  const text = (value: unknown, field: string, fallback: string): string => {
    if (value === undefined) return fallback;
    if (typeof value !== 'string') return fail(field, 'must be a string');
    return value;
  };
  if (!Array.isArray(top.benchmarks) || top.benchmarks.length === 0) fail('benchmarks', 'must be a non-empty list');
  const adapters = (strings(top.adapters, 'adapters') ?? []).map((a, i) => path(a, `adapters[${i}]`));
  if (top.include_base !== undefined && typeof top.include_base !== 'boolean') fail('include_base', 'must be true or false');
  if (top.cache !== undefined && typeof top.cache !== 'boolean') fail('cache', 'must be true or false');
  return {
    model: path(top.model, 'model'),
    adapters,
    includeBase: (top.include_base as boolean | undefined) ?? adapters.length === 0,
    dtype: text(top.dtype, 'dtype', 'fp32'),
    backend: text(top.backend, 'backend', 'auto'),
    batchSize: integer(top.batch_size, 'batch_size', 8, 1)!,
    maxLength: integer(top.max_length, 'max_length', 2048, 2)!,
    cacheDir: top.cache === false ? undefined : top.cache_dir === undefined ? 'runs/cache/bench' : path(top.cache_dir, 'cache_dir'),
    bootstrap: bootstrapSettings(integer(top.bootstrap, 'bootstrap', DEFAULT_BOOTSTRAP.samples, 0)!, integer(top.bootstrap_seed, 'bootstrap_seed', DEFAULT_BOOTSTRAP.seed, 0)!),
    out: top.out === undefined ? undefined : path(top.out, 'out'),
    benchmarks: (top.benchmarks as unknown[]).map((raw, i) => {
      const at = `benchmarks[${i}]`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(at, 'must be a mapping');
      const b = raw as Json;
      const allowed = ['benchmark', 'shots', 'subjects', 'tasks', 'limit', 'data_dir'];
      for (const key of Object.keys(b)) if (!allowed.includes(key)) fail(`${at}.${key}`, `is not a known field (known: ${allowed.join(', ')})`);
      if (typeof b.benchmark !== 'string' || b.benchmark === '') fail(`${at}.benchmark`, 'is required: mmlu, superglue or a definition file');
      const name = b.benchmark as string;
      return {
        benchmark: /^[A-Za-z0-9_-]+$/.test(name) ? name : path(name, `${at}.benchmark`),
        shots: integer(b.shots, `${at}.shots`, undefined, 0),
        subjects: strings(b.subjects, `${at}.subjects`),
        tasks: strings(b.tasks, `${at}.tasks`),
        limit: integer(b.limit, `${at}.limit`, undefined, 1),
        dataDir: b.data_dir === undefined ? undefined : path(b.data_dir, `${at}.data_dir`),
      };
    }),
  };
}
