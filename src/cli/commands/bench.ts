import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import { formatResultsTable } from '../../eval/benchmarks/report.js';
import { DATA_DIR_ENV } from '../../eval/benchmarks/data-location.js';
import type { BenchmarkSuite } from '../../eval/benchmarks/definition.js';
import { type LmEvalContext, lmEvalResults } from '../../eval/benchmarks/lm-eval-results.js';
import { LM_EVAL_BOOTSTRAP_ITERS } from '../../eval/benchmarks/lm-eval-stderr.js';
import { type BenchmarkResults, type BenchmarkSelection, locateTaskData, runBenchmark } from '../../eval/benchmarks/runner.js';
import { type BootstrapSettings, bootstrapSettings } from '../../eval/benchmarks/scoring.js';
import { resolveSuite } from '../../eval/benchmarks/suites.js';
import { MODEL_OPTIONS_HELP, loadBaseModelForCli, loadTokenizerForCli, requireModelDir } from '../model-options.js';
import { checkModelOptions } from '../model-option-checks.js';
import { parseOptions } from '../parse-options.js';
import { ProgressBar, note } from '../progress.js';
import { integerOption, listOption } from '../option-values.js';

export const BENCH_HELP = `tuneloop bench: run a benchmark (MMLU, SuperGLUE, XSum, CNN/DailyMail, WMT17, or your own YAML)

Usage:
  tuneloop bench mmlu|superglue|xsum|cnn_dailymail|wmt17|FILE.yaml --model DIR [options]

Prompts and scoring follow lm-evaluation-harness and HELM. Multiple-choice tasks (mmlu, superglue)
score each choice by log-likelihood after the prompt; the most likely choice is the prediction.
Generation tasks (xsum, cnn_dailymail) continue the prompt greedily until a stop string and score
the text with ROUGE (as rouge-score) or BLEU/chrF/TER (as sacreBLEU). wmt17 rescores the WMT17
en-de systems' published outputs (the shared data lacks the English source). Definitions live in
benchmarks/*.yaml (see benchmarks/README.md to write your own).

Data (first match wins; see "Where the data comes from" in README.md):
  1. --data-dir DIR             the benchmark's data folder itself (only this folder is tried)
  2. ${DATA_DIR_ENV}=ROOT     ROOT/<folder>, a root holding mmlu/, superglue/, summarization/...,
                                translation/... (only this folder is tried)
  3. data/benchmarks/<folder>   shipped: MMLU test and dev files of 16 subjects (anatomy, sociology,
                                virology, the tutor's history, mathematics and general-knowledge ones, ...)
  4. ../shared/data/<folder>    beside the project, when present
When files are missing, the error lists the files expected, their official format and where the
official dataset is published.

Selection:
  --shots K              few-shot examples per item (default: the definition's, 0 for MMLU)
  --subjects A,B         only these subsets (MMLU subjects, e.g. anatomy,virology)
  --tasks A,B            only these tasks (e.g. boolq,cb)
  --limit N              only the first N items of each task or subject
  --data-dir DIR         the benchmark's data folder (default: see Data above)

Runs:
  --adapter DIR          evaluate this PEFT adapter (repeat for several; all on one loaded base model)
  --base                 also evaluate the base model when adapters are given (the default without)

Scoring:
  --batch-size N         rows per forward pass (default 8)
  --max-length N         longest input; longer prompts lose tokens from the left (default 2048)
  --cache-dir DIR        model outputs cache (default runs/cache/bench): a rerun is free and an
                         interrupted run resumes where it stopped
  --no-cache             neither read nor write the cache
  --bootstrap N          resamples for each metric's 95% bootstrap interval, shown as [low, high]
                         (default 1000; 0 turns intervals off)
  --bootstrap-seed S     seed of the resamples (default 1234)

Output:
  --json                 print the results JSON on stdout instead of the table
  --out FILE             write the results JSON (scores, model/adapter/data hashes, templates, few-shot
                         settings, metric versions, the data folder used)
  --lm-eval-out FILE     also write lm-evaluation-harness 0.4's results layout (results.<task>.
                         "<metric>,none" and "<metric>_stderr,none", groups, configs, versions, n-shot,
                         higher_is_better, n-samples, config), with stderrs computed as lm-eval does;
                         with several runs (adapters, --base), one file each: FILE-base.json,
                         FILE-adapter1.json, ...
  --lm-eval-bootstrap-iters N
                         resamples for the stderrs lm-eval bootstraps (mcc, f1; bleu, chrf and ter use
                         at most 100), as lm-eval's --bootstrap_iters (default ${LM_EVAL_BOOTSTRAP_ITERS})
The table (with each task's shots) goes to stdout, progress to stderr.

Model:
${MODEL_OPTIONS_HELP}

Examples:
  tuneloop bench mmlu --model models/demo --subjects anatomy --limit 5
  tuneloop bench mmlu --model models/bloom-560m --shots 5 --subjects high_school_us_history --out mmlu.json
  tuneloop bench mmlu --model DIR --subjects anatomy,virology --lm-eval-out results/lm-eval.json
  TUNELOOP_DATA_DIR=~/data tuneloop bench superglue --model DIR --tasks boolq,cb --json
  tuneloop bench superglue --model models/bloom-560m --tasks boolq,cb --limit 200
  tuneloop bench xsum --model models/bloom-560m --limit 100 --out xsum.json
  tuneloop bench wmt17 --model models/bloom-560m --subjects online-B.0,uedin-nmt.4722
  tuneloop bench mmlu --model DIR --adapter runs/history/adapter --adapter runs/maths/adapter --base
  tuneloop bench my-quiz.yaml --model DIR`;

export async function runBench(argv: string[]): Promise<void> {
  const { values, positionals } = parseOptions('bench', {
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      base: { type: 'boolean', default: false },
      dtype: { type: 'string', default: 'fp32' },
      backend: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
      shots: { type: 'string' },
      subjects: { type: 'string' },
      tasks: { type: 'string' },
      limit: { type: 'string' },
      'data-dir': { type: 'string' },
      'batch-size': { type: 'string', default: '8' },
      'max-length': { type: 'string', default: '2048' },
      'cache-dir': { type: 'string', default: 'runs/cache/bench' },
      'no-cache': { type: 'boolean', default: false },
      bootstrap: { type: 'string', default: '1000' },
      'bootstrap-seed': { type: 'string', default: '1234' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      'lm-eval-out': { type: 'string' },
      'lm-eval-bootstrap-iters': { type: 'string', default: String(LM_EVAL_BOOTSTRAP_ITERS) },
    },
    strict: true,
  });
  if (positionals.length !== 1) throw new InvalidInputError('benchmark', `give one benchmark (mmlu, superglue or a YAML file), got ${positionals.length}`);
  // The object below parses every numeric option, and runBenchFromOptions checks the model options and
  // the benchmark, all before anything is loaded.
  const results = await runBenchFromOptions({
    benchmark: positionals[0],
    model: values.model,
    adapters: values.adapter ?? [],
    includeBase: values.base,
    dtype: values.dtype,
    backend: values.backend,
    threads: values.threads,
    shots: integerOption(values.shots, '--shots', 0),
    subjects: listOption(values.subjects),
    tasks: listOption(values.tasks),
    limit: integerOption(values.limit, '--limit', 1),
    dataDir: values['data-dir'],
    batchSize: integerOption(values['batch-size'], '--batch-size', 1)!,
    maxLength: integerOption(values['max-length'], '--max-length', 2)!,
    cacheDir: values['no-cache'] ? undefined : values['cache-dir'],
    bootstrap: bootstrapSettings(integerOption(values.bootstrap, '--bootstrap', 0)!, integerOption(values['bootstrap-seed'], '--bootstrap-seed', 0)!),
    stderrBootstrapIters: values['lm-eval-out'] ? integerOption(values['lm-eval-bootstrap-iters'], '--lm-eval-bootstrap-iters', 0) : undefined,
  });
  process.stdout.write(values.json ? `${JSON.stringify(results, null, 2)}\n` : `${formatResultsTable(results)}\n`);
  if (values.out) writeResults(values.out, results);
  if (values['lm-eval-out']) writeLmEvalResults(values['lm-eval-out'], results, { dtype: values.dtype, backend: values.backend, cacheDir: values['no-cache'] ? undefined : values['cache-dir'] });
}

/** One lm-eval results file per run: FILE for a single run, else FILE-base.json, FILE-adapter1.json, ... */
export function writeLmEvalResults(path: string, results: BenchmarkResults, context: LmEvalContext): void {
  let adapterNumber = 0;
  const stem = path.endsWith('.json') ? path.slice(0, -'.json'.length) : path;
  for (const run of results.runs) {
    const label = run.adapter ? `adapter${++adapterNumber}` : 'base';
    writeResults(results.runs.length === 1 ? path : `${stem}-${label}.json`, lmEvalResults(results, run, context));
  }
}

export interface BenchRunRequest {
  benchmark: string;
  model: string | undefined;
  adapters: readonly string[];
  includeBase: boolean;
  dtype: string;
  backend: string;
  /** The --threads text, checked when the model loads. */
  threads?: string;
  shots?: number;
  subjects?: string[];
  tasks?: string[];
  limit?: number;
  dataDir?: string;
  /** Where dataDir came from, for messages (default `--data-dir`). */
  dataDirOrigin?: string;
  batchSize: number;
  maxLength: number;
  cacheDir: string | undefined;
  bootstrap: BootstrapSettings | null;
  /** Compute lm-eval's standard errors with this many bootstrap resamples (undefined: not computed). */
  stderrBootstrapIters?: number;
}

/**
 * The suite of a request, its data located (a missing file stops here, before any model is loaded);
 * `bench` and `eval` check every benchmark this way first.
 */
export function resolveBenchRequest(request: Pick<BenchRunRequest, 'benchmark' | 'dataDir' | 'dataDirOrigin' | 'shots' | 'subjects' | 'tasks' | 'limit'>): { suite: BenchmarkSuite; sha256: string; selection: BenchmarkSelection } {
  const { suite, sha256 } = resolveSuite(request.benchmark, { dataDir: request.dataDir, dataDirOrigin: request.dataDirOrigin });
  const selection = { shots: request.shots, subsets: request.subjects, tasks: request.tasks, limit: request.limit };
  locateTaskData(suite, selection);
  return { suite, sha256, selection };
}

/** Loads the model and tokenizer and runs one benchmark; shared by `bench` and `eval`. */
export async function runBenchFromOptions(request: BenchRunRequest, loaded?: Awaited<ReturnType<typeof loadModelAndTokenizer>>): Promise<BenchmarkResults> {
  if (!loaded) checkModelOptions({ model: request.model, adapter: request.adapters, dtype: request.dtype, backend: request.backend, threads: request.threads });
  const { suite, sha256, selection } = resolveBenchRequest(request);
  const { base, tokenizer } = loaded ?? (await loadModelAndTokenizer(request));
  const runs = request.adapters.length === 0 ? [null] : [...(request.includeBase ? [null] : []), ...request.adapters];
  let bar: ProgressBar | undefined;
  let barLabel = '';
  return runBenchmark(base, tokenizer, suite, sha256, {
    selection,
    adapters: runs,
    batchSize: request.batchSize,
    maxLength: request.maxLength,
    cacheDir: request.cacheDir,
    bootstrap: request.bootstrap,
    stderr: request.stderrBootstrapIters === undefined ? undefined : { bootstrapIters: request.stderrBootstrapIters },
    onStatus: note,
    onRunProgress: (label, done, total) => {
      if (total === 0) return;
      if (label !== barLabel || !bar) {
        bar = new ProgressBar(`${suite.name}: ${label}`, total);
        barLabel = label;
      }
      bar.update(done);
      if (done === total) bar.finish();
    },
  });
}

export async function loadModelAndTokenizer(request: { model: string | undefined; dtype: string; backend: string; threads?: string }) {
  const dir = requireModelDir(request.model);
  const tokenizer = await loadTokenizerForCli(dir, 'benchmarks are text');
  const base = await loadBaseModelForCli({ model: dir, dtype: request.dtype, backend: request.backend, threads: request.threads });
  return { base, tokenizer };
}

export function writeResults(path: string, results: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  note(`results: ${path}`);
}


