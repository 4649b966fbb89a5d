import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../errors.js';
import { formatResultsTable } from '../../eval/benchmarks/report.js';
import type { BenchmarkResults } from '../../eval/benchmarks/runner.js';
import { readEvalConfig } from '../../eval/benchmarks/eval-config.js';
import { parseThreadCount } from '../../engine/select-backend.js';
import { requireModelDir } from '../model-options.js';
import { requireAdapterDir } from '../model-option-checks.js';
import { parseOptions } from '../parse-options.js';
import { loadModelAndTokenizer, resolveBenchRequest, runBenchFromOptions, writeResults } from './bench.js';
import { ASSERTION_SUITE_HELP, runAssertionSuite } from './evaluate.js';

export const EVAL_HELP = `tuneloop eval: evaluate a model from a YAML file: benchmarks, or an assertion test suite

Usage:
  tuneloop eval --config eval.yaml [--model DIR] [--adapter DIR ...] [--out FILE] [--no-cache] [--json]
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
      data_dir: data/quiz     # the benchmark's data folder; without it, as tuneloop bench looks:
                              # TUNELOOP_DATA_DIR/<folder>, the shipped data/benchmarks, ../shared/data

Options for a benchmark run:
  --config FILE          the YAML above (required)
  --model DIR            overrides the file's model (a path on the command line is relative to the
                         current folder; one in the file, to the file)
  --adapter DIR          overrides the file's adapters (repeat for several)
  --out FILE             overrides the file's out
  --json                 print the results JSON (as --out writes it) on stdout instead of the tables
  --no-cache             neither read nor write cached model outputs
  --threads N            threads for the native backend (default TUNELOOP_THREADS, else one per core)

${ASSERTION_SUITE_HELP}

Examples:
  tuneloop eval --config eval.yaml --out runs/eval/results.json
  tuneloop eval --config configs/evaluators/tutor.yaml
  tuneloop eval --config configs/evaluators/tutor.yaml --model models/demo --adapter runs/tutor/history/adapter
  tuneloop eval --config suite.yaml --judge-endpoint http://localhost:8000/v1 --judge-model qwen2.5-7b-instruct --json`;

/**
 * Runs the file named by --config: an assertion suite when it has a top-level `tests:` key, else a
 * benchmark run. The file is read first, so a broken file is reported as such whatever the other
 * options. Returns the exit code.
 */
export async function runEval(argv: string[]): Promise<number> {
  const { values: peeked } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: false, allowPositionals: true });
  if (typeof peeked.config === 'string' && isAssertionSuite(readYamlFile(peeked.config))) return runAssertionSuite(argv);
  await runBenchmarks(argv);
  return 0;
}

/** The parsed YAML of the --config file; an unreadable or malformed file fails here, naming it. */
function readYamlFile(file: string): unknown {
  try {
    return parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidInputError('--config', `cannot read ${file}: ${(error as Error).message}`);
  }
}

/** True when the document is a YAML mapping with `tests:`. */
function isAssertionSuite(document: unknown): boolean {
  return typeof document === 'object' && document !== null && !Array.isArray(document) && 'tests' in document;
}

async function runBenchmarks(argv: string[]): Promise<void> {
  const { values } = parseOptions(
    'eval',
    {
      args: argv,
      options: {
        config: { type: 'string' },
        model: { type: 'string' },
        adapter: { type: 'string', multiple: true },
        out: { type: 'string' },
        'no-cache': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        threads: { type: 'string' },
      },
      strict: true,
    },
    'for a benchmark run (a file without tests:)',
  );
  if (!values.config) throw new InvalidInputError('--config', 'is required: the eval YAML file');
  const config = readEvalConfig(values.config);
  parseThreadCount(values.threads, '--threads');
  // The command line's --model and --adapter replace the file's; errors name whichever gave the path.
  const model = values.model ?? config.model;
  if (model === null) throw new InvalidInputError('--model', `${values.config} names no model: add model: to the file, or give --model DIR`);
  requireModelDir(model, values.model !== undefined ? '--model' : `${values.config}: model`);
  const adapters = values.adapter ?? config.adapters;
  for (const adapter of adapters) requireAdapterDir(adapter, values.adapter !== undefined ? '--adapter' : `${values.config}: adapters`);
  // Every benchmark's definition is read and its data located before the model loads: a wrong name or a
  // missing file stops the run at once.
  for (const b of config.benchmarks) resolveBenchRequest(b);
  const loaded = await loadModelAndTokenizer({ model, dtype: config.dtype, backend: config.backend, threads: values.threads });
  const results: BenchmarkResults[] = [];
  for (const b of config.benchmarks) {
    const result = await runBenchFromOptions(
      { ...config, ...b, model, adapters, includeBase: config.includeBase ?? adapters.length === 0, cacheDir: values['no-cache'] ? undefined : config.cacheDir },
      loaded,
    );
    if (!values.json) process.stdout.write(`${formatResultsTable(result)}\n\n`);
    results.push(result);
  }
  const evalResults = { format: 'tuneloop-eval-results', format_version: 2, config: values.config, benchmarks: results };
  if (values.json) process.stdout.write(`${JSON.stringify(evalResults, null, 2)}\n`);
  const out = values.out ?? config.out;
  if (out) writeResults(out, evalResults);
}
