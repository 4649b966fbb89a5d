import { createHash } from 'node:crypto';
import { DatasetError, InvalidInputError } from '../../errors.js';
import { generate } from '../../inference/generate.js';
import type { LoglikelihoodRequest, ScoreOptions } from '../../inference/score.js';
import { SharedPrefixScorer } from '../../inference/shared-prefix-score.js';
import type { BloomModel } from '../../models/bloom/model.js';
import type { CausalLM } from '../../models/causal-lm.js';
import { applyAdapter } from '../../peft/apply-adapter.js';
import { pythonStrip } from '../python-text.js';
import { type CachedGeneration, type CachedScore, GenerationCache, ScoreCache, generationKey, hashModelDirectory, requestKey } from './cache.js';
import { chooseDataDir } from './data-location.js';
import { type Stderr, taskStderrs } from './lm-eval-stderr.js';
import { loadSplit, neededFiles } from './data.js';
import type { BenchmarkSuite, TaskDefinition } from './definition.js';
import { type PreparedItem, prepareItems } from './prompts.js';
import { type BootstrapSettings, type ChoiceOutcome, DEFAULT_BOOTSTRAP, type GroupAggregate, METRIC_VERSIONS, aggregate, choiceMetricFunctions, metricsWithIntervals } from './scoring.js';
import { cleanGeneration, textMetricFunctions } from './text-scoring.js';

/** Text to token ids (a BloomTokenizer, or any tokenizer matching the model's vocabulary). */
export interface TextEncoder {
  encode(text: string): number[];
}

/** A tokenizer that also decodes, which generation tasks need. */
export interface TextTokenizer extends TextEncoder {
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

export interface BenchmarkSelection {
  /** Only these tasks (definition names, e.g. `cb`); all when absent. */
  readonly tasks?: readonly string[];
  /** Only these subsets (MMLU subjects); all when absent. */
  readonly subsets?: readonly string[];
  /** Few-shot examples per item; each task's own default when absent. */
  readonly shots?: number;
  /** The first N items of each (sub)task. */
  readonly limit?: number;
}

/** One task (or one subset of a task) with its items prepared: what gets scored. */
export interface PreparedTask {
  readonly name: string;
  readonly definition: TaskDefinition;
  readonly subset: string | null;
  readonly shots: number;
  readonly items: readonly PreparedItem[];
  readonly files: readonly { path: string; sha256: string }[];
  /** The data folder the files were read from. */
  readonly dataDir: string;
  /** Items in the evaluated split before --limit (lm-eval's n-samples "original"). */
  readonly originalItems: number;
}

interface TaskPlan {
  readonly definition: TaskDefinition;
  readonly subset: string | null;
  readonly shots: number;
  readonly fewshotSplit: string | null;
}

/**
 * The selected tasks and the data folder they are read from: the first of the suite's candidates
 * holding every file the selection needs (see data-location.ts), else a DatasetError explaining where
 * the data comes from. Cheap (no file is read), so a command can call it before loading a model.
 */
export function locateTaskData(suite: BenchmarkSuite, selection: BenchmarkSelection = {}): { plans: TaskPlan[]; dataDir: string } {
  const known = new Set(suite.tasks.map((t) => t.name));
  for (const name of selection.tasks ?? []) if (!known.has(name)) throw new InvalidInputError('--tasks', `"${name}" is not a task of ${suite.name} (${[...known].join(', ')})`);
  const allSubsets = new Set(suite.tasks.flatMap((t) => t.subsets ?? []));
  for (const s of selection.subsets ?? []) if (!allSubsets.has(s)) throw new InvalidInputError('--subjects', `"${s}" is not a subset of ${suite.name}`);
  const plans: TaskPlan[] = [];
  for (const definition of suite.tasks) {
    if (selection.tasks && !selection.tasks.includes(definition.name)) continue;
    const subsets = definition.subsets ? definition.subsets.filter((s) => !selection.subsets || selection.subsets.includes(s)) : [null];
    const shots = selection.shots ?? definition.fewshot.shots;
    if (shots > 0 && definition.fewshot.split === null) throw new InvalidInputError('--shots', `task ${definition.name} has no few-shot split`);
    for (const subset of subsets) plans.push({ definition, subset, shots, fewshotSplit: shots === 0 ? null : definition.fewshot.split });
  }
  if (plans.length === 0) throw new InvalidInputError('--tasks', 'selects no task');
  const needed = plans.flatMap((p) => [p.definition.evalSplit, ...(p.fewshotSplit !== null && p.fewshotSplit !== p.definition.evalSplit ? [p.fewshotSplit] : [])].flatMap((split) => neededFiles(p.definition, p.subset, split)));
  return { plans, dataDir: chooseDataDir(suite.name, suite.dataLocations, needed, suite.dataSource) };
}

/** Loads data and builds prompts for the selected tasks, from the folder locateTaskData chooses. */
export async function prepareTasks(suite: BenchmarkSuite, selection: BenchmarkSelection = {}): Promise<PreparedTask[]> {
  const { plans, dataDir } = locateTaskData(suite, selection);
  const prepared: PreparedTask[] = [];
  for (const { definition, subset, shots, fewshotSplit } of plans) {
    const evaluated = await loadSplit(definition, subset, definition.evalSplit, dataDir);
    const sameSplit = fewshotSplit === definition.evalSplit;
    const pool = fewshotSplit === null ? undefined : sameSplit ? evaluated : await loadSplit(definition, subset, fewshotSplit, dataDir);
    const chosen = selection.limit === undefined ? evaluated.items : evaluated.items.slice(0, selection.limit);
    const items = prepareItems(definition, subset, chosen, { shots, pool: pool?.items ?? [], sameSplit });
    const files = [evaluated, ...(pool && !sameSplit ? [pool] : [])].flatMap((s) => s.files);
    prepared.push({ name: subset === null ? definition.name : `${definition.name}_${subset}`, definition, subset, shots, items, files, dataDir, originalItems: evaluated.items.length });
  }
  return prepared;
}

/**
 * lm-eval's `_encode_pair`: trailing whitespace of the context moves to the continuation, the two are
 * encoded together and the continuation's tokens are those after the context's own encoding.
 */
export function encodePair(tokenizer: TextEncoder, context: string, continuation: string, contextIds?: readonly number[]): LoglikelihoodRequest {
  const trimmed = pythonStrip(context, 'right');
  const moved = context.slice(trimmed.length);
  const contextTokens = contextIds ?? tokenizer.encode(trimmed);
  const whole = tokenizer.encode(trimmed + moved + continuation);
  return { context: [...contextTokens], continuation: whole.slice(contextTokens.length) };
}

/** The loglikelihood requests of prepared items: one per choice, in item then choice order. */
export function buildRequests(tokenizer: TextEncoder, items: readonly PreparedItem[], targetDelimiter: string): LoglikelihoodRequest[][] {
  return items.map((item) => {
    const contextIds = tokenizer.encode(pythonStrip(item.context, 'right'));
    return item.choices.map((choice) => encodePair(tokenizer, item.context, targetDelimiter + choice, contextIds));
  });
}

export interface ScoringSettings {
  readonly batchSize: number;
  readonly maxLength: number;
  /** Requests per scoring call; the cache is written after each, so a killed run loses at most one (default 4 batches). */
  readonly chunk?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Scores requests through a SharedPrefixScorer (scoreLoglikelihood's figures; an item's single-token
 * choices share one forward, and items share their few-shot prefix), skipping those the cache holds and
 * scoring each distinct request once. Returns scores in request order and how many were computed.
 */
export function scoreWithCache(model: CausalLM, requests: readonly LoglikelihoodRequest[], cache: ScoreCache, settings: ScoringSettings): { scores: CachedScore[]; computed: number } {
  const keys = requests.map((r) => requestKey(r, settings.maxLength));
  const missing = new Map<string, LoglikelihoodRequest>();
  keys.forEach((k, i) => {
    if (!cache.get(k) && !missing.has(k)) missing.set(k, requests[i]);
  });
  const todo = [...missing.entries()];
  const chunk = settings.chunk ?? settings.batchSize * 4;
  const scoreOptions: ScoreOptions = { batchSize: settings.batchSize, maxLength: settings.maxLength };
  // One scorer for every chunk: it keeps the KV cache of the shared few-shot prefix between them.
  const scorer = new SharedPrefixScorer(model, scoreOptions);
  settings.onProgress?.(0, todo.length);
  for (let start = 0; start < todo.length; start += chunk) {
    const part = todo.slice(start, start + chunk);
    const results = scorer.score(
      part.map(([, r]) => r),
      (done) => settings.onProgress?.(start + done, todo.length),
    );
    cache.putMany(part.map(([key], i) => ({ key, score: { logLikelihood: results[i].logLikelihood, isGreedy: results[i].isGreedy } })));
    settings.onProgress?.(start + part.length, todo.length);
  }
  return { scores: keys.map((k) => cache.get(k)!), computed: todo.length };
}

/** One task's generation settings: its stop strings and how many tokens it may add. */
export interface GenerationSettings {
  readonly until: readonly string[];
  readonly maxNewTokens: number;
}

/**
 * The prompts of a generation task as token ids, as lm-eval's generate_until encodes them: the whole
 * context, keeping its last `maxLength - maxNewTokens` tokens so the continuation fits the window.
 */
export function buildGenerationPrompts(tokenizer: TextEncoder, items: readonly PreparedItem[], settings: GenerationSettings, maxLength: number): number[][] {
  const room = maxLength - settings.maxNewTokens;
  if (room < 1) throw new InvalidInputError('--max-length', `${maxLength} leaves no room for a prompt before ${settings.maxNewTokens} new tokens`);
  return items.map((item) => {
    const ids = tokenizer.encode(item.context);
    if (ids.length === 0) throw new DatasetError(item.item.file, 'the prompt is empty after tokenizing', { line: item.item.line });
    return ids.slice(Math.max(0, ids.length - room));
  });
}

export interface GenerationRunSettings {
  readonly batchSize: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Greedy generation for the prompts the cache lacks, in batches of similar length (longest first, as
 * scoreLoglikelihood orders its requests), each distinct prompt once; every batch is written to the
 * cache as it finishes. Rows stop at the model's end-of-sequence token or once their text holds a
 * stop string. Returns the generations in prompt order and how many were computed.
 */
export function generateWithCache(model: CausalLM, tokenizer: TextTokenizer, prompts: readonly (readonly number[])[], settings: GenerationSettings, cache: GenerationCache, run: GenerationRunSettings): { generations: CachedGeneration[]; computed: number } {
  const keys = prompts.map((p) => generationKey(p, settings));
  const missing = new Map<string, readonly number[]>();
  keys.forEach((k, i) => {
    if (!cache.get(k) && !missing.has(k)) missing.set(k, prompts[i]);
  });
  const todo = [...missing.entries()].sort((a, b) => b[1].length - a[1].length);
  const decode = (ids: readonly number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
  run.onProgress?.(0, todo.length);
  for (let start = 0; start < todo.length; start += run.batchSize) {
    const batch = todo.slice(start, start + run.batchSize);
    const result = generate(
      model,
      batch.map(([, p]) => p),
      { maxNewTokens: settings.maxNewTokens, strategy: { kind: 'greedy' }, stop: { sequences: settings.until, decode } },
    );
    cache.putMany(batch.map(([key], i) => ({ key, generation: { text: decode(result.rows[i].newTokens), tokens: result.rows[i].newTokens.length, finishReason: result.rows[i].finishReason } })));
    run.onProgress?.(start + batch.length, todo.length);
  }
  return { generations: keys.map((k) => cache.get(k)!), computed: todo.length };
}

export interface TaskResult {
  readonly name: string;
  readonly items: number;
  readonly metrics: Record<string, number>;
  /** Per metric, the bootstrap interval (settings.bootstrap); null when the bootstrap is off. */
  readonly intervals: Record<string, { readonly lower: number; readonly upper: number }> | null;
  /** Text metrics: how each was computed, in sacreBLEU's signature style. */
  readonly signatures?: Record<string, string>;
  /** Per metric, lm-evaluation-harness's standard error (see lm-eval-stderr.ts); present when the run asked for it. */
  readonly stderr?: Record<string, Stderr>;
}

export interface RunResult {
  /** null for the base model. */
  readonly adapter: { readonly dir: string; readonly sha256: string } | null;
  readonly tasks: readonly TaskResult[];
  readonly groups: Readonly<Record<string, GroupAggregate>>;
  readonly overall: GroupAggregate;
  /** Log-likelihood requests (multiple choice), and how many were scored rather than read from the cache. */
  readonly requests: number;
  readonly computed_requests: number;
  /** Generations (generate tasks), and how many were generated rather than read from the cache. */
  readonly generations: number;
  readonly computed_generations: number;
  readonly seconds: number;
}

export interface BenchmarkRunOptions extends ScoringSettings {
  readonly selection?: BenchmarkSelection;
  /** Adapter directories, each evaluated on the one loaded base model; null stands for the base model. */
  readonly adapters: readonly (string | null)[];
  /** Where model outputs are cached; undefined turns the cache off. */
  readonly cacheDir?: string;
  /** Bootstrap intervals for every metric (default DEFAULT_BOOTSTRAP); null turns them off. */
  readonly bootstrap?: BootstrapSettings | null;
  /** Compute each metric's standard error as lm-eval does, with this many bootstrap resamples where lm-eval bootstraps. */
  readonly stderr?: { readonly bootstrapIters: number };
  readonly onStatus?: (message: string) => void;
  readonly onRunProgress?: (label: string, done: number, total: number) => void;
}

export interface BenchmarkResults {
  readonly format: 'tuneloop-benchmark-results';
  /** 2: keys in snake_case, the data folder recorded (1 had camelCase keys). */
  readonly format_version: 2;
  /** data_dir: the folder the data was read from (--data-dir, TUNELOOP_DATA_DIR, shipped data, ...). */
  readonly suite: { readonly name: string; readonly file: string; readonly sha256: string; readonly data_dir: string };
  readonly created: string;
  readonly model: { readonly dir: string | undefined; readonly sha256: string };
  readonly settings: {
    readonly shots: number | null;
    readonly limit: number | null;
    readonly tasks: readonly string[] | null;
    readonly subsets: readonly string[] | null;
    readonly batch_size: number;
    readonly max_length: number;
    readonly bootstrap: BootstrapSettings | null;
    /** Resamples for lm-eval's bootstrapped standard errors; null when they were not computed. */
    readonly stderr_bootstrap_iters: number | null;
  };
  readonly metric_versions: Readonly<Record<string, number>>;
  readonly tasks: Readonly<Record<string, TaskRecord>>;
  /** The suite's groups that have a task in this run: group name -> its tasks in this run. */
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly runs: readonly RunResult[];
}

/** What a task was: its data, template and few-shot settings, recorded beside its scores. */
export interface TaskRecord {
  readonly definition: string;
  readonly version: number;
  readonly subset: string | null;
  readonly items: number;
  /** Items in the evaluated split before --limit. */
  readonly split_items: number;
  readonly data: readonly { path: string; sha256: string }[];
  readonly data_sha256: string;
  readonly eval_split: string;
  readonly fewshot: { readonly shots: number; readonly split: string | null; readonly sampler: string; readonly seed: number };
  readonly template: Readonly<Record<string, string | readonly string[] | null>>;
  readonly scoring: TaskDefinition['scoring']['type'];
  /** generate tasks: stop strings and the most new tokens (decoding is greedy). */
  readonly generation: { readonly until: readonly string[]; readonly max_new_tokens: number; readonly decoding: 'greedy' } | null;
  readonly metrics: readonly string[];
}

/**
 * Runs a suite on a loaded base model for each adapter in turn (LoRA adapters are attached to the base
 * and detached after; prompt tuning wraps it), with every model output cached on disk by model hash,
 * adapter hash and request.
 */
export async function runBenchmark(base: BloomModel, tokenizer: TextTokenizer, suite: BenchmarkSuite, suiteSha256: string, options: BenchmarkRunOptions): Promise<BenchmarkResults> {
  if (options.adapters.length === 0) throw new InvalidInputError('adapters', 'give at least one run (null for the base model)');
  const bootstrap = options.bootstrap === undefined ? DEFAULT_BOOTSTRAP : options.bootstrap;
  const tasks = await prepareTasks(suite, options.selection);
  const requests = tasks.map((t) => (t.definition.scoring.type === 'multiple_choice' ? buildRequests(tokenizer, t.items, t.definition.targetDelimiter) : []));
  const flat = requests.flat(2);
  const prompts = tasks.map((t) => {
    const scoring = t.definition.scoring;
    return scoring.type === 'generate' ? buildGenerationPrompts(tokenizer, t.items, scoring, options.maxLength) : null;
  });
  const generationCount = prompts.reduce((n, p) => n + (p?.length ?? 0), 0);
  const modelHash = base.sourceDir ? hashModelDirectory(base.sourceDir, options.cacheDir) : 'in-memory-model';
  const runs: RunResult[] = [];
  for (const adapterDir of options.adapters) {
    const started = performance.now();
    const adapter = adapterDir === null ? null : { dir: adapterDir, sha256: hashModelDirectory(adapterDir, options.cacheDir) };
    const label = adapter ? `adapter ${adapter.dir}` : 'base model';
    const cache = new ScoreCache(options.cacheDir, modelHash, adapter?.sha256 ?? null);
    const generationCache = new GenerationCache(options.cacheDir, modelHash, adapter?.sha256 ?? null);
    const model = adapterDir === null ? base : applyAdapter(base, adapterDir);
    let computed = 0;
    let scores: CachedScore[] = [];
    let computedGenerations = 0;
    const generations: (CachedGeneration[] | null)[] = [];
    try {
      if (flat.length > 0) ({ scores, computed } = scoreWithCache(model, flat, cache, { ...options, onProgress: (done, total) => options.onRunProgress?.(`scoring (${label})`, done, total) }));
      tasks.forEach((task, t) => {
        const scoring = task.definition.scoring;
        const taskPrompts = prompts[t];
        if (scoring.type !== 'generate' || taskPrompts === null) {
          generations.push(null);
          return;
        }
        const done = generateWithCache(model, tokenizer, taskPrompts, scoring, generationCache, {
          batchSize: options.batchSize,
          onProgress: (n, total) => options.onRunProgress?.(`generating ${task.name} (${label})`, n, total),
        });
        computedGenerations += done.computed;
        generations.push(done.generations);
      });
    } finally {
      // LoRA attaches to the base model itself; detach it so the next run starts from the base.
      base.linearAdapter = undefined;
    }
    const counts = [flat.length > 0 ? `${flat.length} requests, ${computed} scored, ${flat.length - computed} from the cache` : '', generationCount > 0 ? `${generationCount} generations, ${computedGenerations} generated, ${generationCount - computedGenerations} from the cache` : ''];
    if (counts.some((c) => c !== '')) options.onStatus?.(`${label}: ${counts.filter((c) => c !== '').join('; ')}`);
    let cursor = 0;
    const taskResults: TaskResult[] = tasks.map((task, t) => {
      const scoring = task.definition.scoring;
      if (scoring.type === 'multiple_choice') {
        const outcomes: ChoiceOutcome[] = task.items.map((item, i) => {
          const lls = requests[t][i].map(() => scores[cursor++].logLikelihood);
          return { gold: item.gold, logLikelihoods: lls, choices: item.choices, groupKey: item.groupKey };
        });
        const functions = choiceMetricFunctions(task.definition, outcomes);
        const stderr = options.stderr ? { stderr: taskStderrs(functions, task.items.length, outcomes.map((o) => o.groupKey), options.stderr.bootstrapIters) } : {};
        return { name: task.name, items: task.items.length, ...metricsWithIntervals(functions, task.items.length, bootstrap), ...stderr };
      }
      const predictions = scoring.type === 'generate' ? generations[t]!.map((g) => cleanGeneration(g.text, scoring.until)) : task.items.map((item) => item.output!);
      const { functions, signatures } = textMetricFunctions(task.definition, predictions, task.items.map((item) => item.reference!));
      const stderr = options.stderr ? { stderr: taskStderrs(functions, task.items.length, null, options.stderr.bootstrapIters) } : {};
      return { name: task.name, items: task.items.length, ...metricsWithIntervals(functions, task.items.length, bootstrap), signatures, ...stderr };
    });
    const byName = new Map(taskResults.map((r) => [r.name, r]));
    const groups: Record<string, GroupAggregate> = {};
    for (const group of suite.groups) {
      const members = group.tasks.map((n) => byName.get(n)).filter((r): r is TaskResult => r !== undefined);
      if (members.length > 0) groups[group.name] = aggregate(members);
    }
    runs.push({
      adapter,
      tasks: taskResults,
      groups,
      overall: aggregate(taskResults),
      requests: flat.length,
      computed_requests: computed,
      generations: generationCount,
      computed_generations: computedGenerations,
      seconds: (performance.now() - started) / 1000,
    });
  }
  const sel = options.selection ?? {};
  return {
    format: 'tuneloop-benchmark-results',
    format_version: 2,
    suite: { name: suite.name, file: suite.file, sha256: suiteSha256, data_dir: tasks[0].dataDir },
    created: new Date().toISOString(),
    model: { dir: base.sourceDir, sha256: modelHash },
    settings: { shots: sel.shots ?? null, limit: sel.limit ?? null, tasks: sel.tasks ?? null, subsets: sel.subsets ?? null, batch_size: options.batchSize, max_length: options.maxLength, bootstrap, stderr_bootstrap_iters: options.stderr?.bootstrapIters ?? null },
    metric_versions: METRIC_VERSIONS,
    tasks: Object.fromEntries(tasks.map((t) => [t.name, taskRecord(t)])),
    groups: Object.fromEntries(
      suite.groups.map((g) => [g.name, g.tasks.filter((name) => tasks.some((t) => t.name === name))] as const).filter(([, members]) => members.length > 0),
    ),
    runs,
  };
}

function taskRecord(task: PreparedTask): TaskRecord {
  const d = task.definition;
  const dataSha256 = createHash('sha256').update(task.files.map((f) => f.sha256).join('\n')).digest('hex');
  return {
    definition: d.name,
    version: d.version,
    subset: task.subset,
    items: task.items.length,
    split_items: task.originalItems,
    data: task.files,
    data_sha256: dataSha256,
    eval_split: d.evalSplit,
    fewshot: { shots: task.shots, split: d.fewshot.split, sampler: d.fewshot.sampler, seed: d.fewshot.seed },
    template: {
      description: d.description?.source ?? null,
      doc_to_text: d.docToText.source,
      doc_to_choice: d.docToChoice?.map((c) => c.source) ?? null,
      doc_to_target: d.docToTarget.source,
      doc_to_output: d.scoring.type === 'outputs' ? d.scoring.docToOutput.source : null,
      target_delimiter: d.targetDelimiter,
      fewshot_delimiter: d.fewshotDelimiter,
    },
    scoring: d.scoring.type,
    generation: d.scoring.type === 'generate' ? { until: d.scoring.until, max_new_tokens: d.scoring.maxNewTokens, decoding: 'greedy' } : null,
    metrics: d.metrics,
  };
}
