import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../errors.js';
import { formatResultsTable } from '../../eval/benchmarks/report.js';
import type { BenchmarkResults } from '../../eval/benchmarks/runner.js';
import { readEvalConfig } from '../../eval/benchmarks/eval-config.js';
import { loadModelAndTokenizer, runBenchFromOptions, writeResults } from './bench.js';
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
  --threads N            threads for the native backend (default TUNELOOP_THREADS, else one per core)

${ASSERTION_SUITE_HELP}

Examples:
  tuneloop eval --config eval.yaml --out runs/eval/results.json
  tuneloop eval --config configs/evaluators/tutor.yaml
  tuneloop eval --config configs/evaluators/tutor.yaml --model models/demo --adapter runs/tutor/history
  tuneloop eval --config suite.yaml --judge-endpoint http://localhost:8000/v1 --judge-model qwen2.5-7b-instruct --json`;

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
    options: { config: { type: 'string' }, out: { type: 'string' }, 'no-cache': { type: 'boolean', default: false }, threads: { type: 'string' } },
    strict: true,
  });
  if (!values.config) throw new InvalidInputError('--config', 'is required: the eval YAML file');
  const config = readEvalConfig(values.config);
  const loaded = await loadModelAndTokenizer({ ...config, threads: values.threads });
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


