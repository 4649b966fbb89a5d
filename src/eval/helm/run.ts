import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../errors.js';
import type { DecodingStrategy } from '../../inference/sampling.js';
import type { BloomModel } from '../../models/bloom/model.js';
import { applyAdapter } from '../../peft/apply-adapter.js';
import { ScoreCache, hashModelDirectory, requestKey } from '../benchmarks/cache.js';
import type { BenchmarkSuite } from '../benchmarks/definition.js';
import type { PreparedItem } from '../benchmarks/prompts.js';
import { type BenchmarkSelection, type PreparedTask, buildRequests, prepareTasks, scoreWithCache } from '../benchmarks/runner.js';
import { type ChoiceOutcome, METRIC_VERSIONS, predictions, taskMetrics } from '../benchmarks/scoring.js';
import { snakeCaseFields } from '../benchmarks/snake-case.js';
import { type CalibrationBin, calibrationBins, expectedCalibrationError } from '../metrics/calibration.js';
import { type BiasReport, biasReport } from './bias.js';
import { type LatencySummary, latencySummary, peakResidentBytes, tokensPerSecond } from './efficiency.js';
import { type GenerationRecord, type TextCodec, generateAll } from './generation.js';
import { defaultFieldRoles, explicitFieldRoles, instanceTexts, perturbedItem } from './instance-texts.js';
import { type PerturbationDescription, perturbInstance } from './perturbation.js';
import type { KeyedPerturbation } from './registry.js';
import type { BiasWordLists, Resource } from './resources.js';
import { type ToxicityLexicon, type ToxicityReport, toxicityReport } from './toxicity.js';
import { type InstanceScores, type WorstCaseSummary, worstCase } from './worst-case.js';

/**
 * A HELM-style multi-metric report of one model (and optionally one adapter) on a benchmark suite:
 * accuracy (the suite's own metrics), calibration, robustness and fairness (worst case over
 * perturbed inputs), bias and toxicity of generations, and efficiency. Every scored request goes
 * through the benchmark runner's on-disk cache, so the original prompts share cache entries with
 * `tuneloop bench`.
 */
export interface HelmRunOptions {
  readonly selection?: BenchmarkSelection;
  readonly adapter: string | null;
  readonly perturbations: readonly KeyedPerturbation[];
  /** HELM's perturbation seed: each instance's generator is Random(str(seed) + id); absent, Random(id). */
  readonly perturbationSeed?: number;
  /** The per-instance correctness robustness and fairness take the worst case of. */
  readonly metric: 'acc' | 'acc_norm';
  readonly fields?: { readonly input?: readonly string[]; readonly references?: readonly string[] };
  readonly batchSize: number;
  readonly maxLength: number;
  readonly cacheDir?: string;
  readonly generation: GenerationOptions;
  readonly biasWordLists: Resource<BiasWordLists>;
  readonly toxicityLexicon: ToxicityLexicon;
  readonly onStatus?: (message: string) => void;
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

export interface GenerationOptions {
  /** Configured prompts, or null for the benchmark's own (original) prompts. */
  readonly prompts: readonly string[] | null;
  readonly source: string;
  /** At most this many prompts. */
  readonly limit: number;
  readonly maxNewTokens: number;
  readonly strategy: DecodingStrategy;
}

export interface CalibrationReport {
  readonly items: number;
  /** HELM's ece_10_bin: 10 equal-mass bins of the top choice's probability (softmax over choices). */
  readonly ece: number;
  readonly bins: readonly CalibrationBin[];
}

export interface HelmTaskReport {
  readonly name: string;
  readonly items: number;
  /** The suite's own metrics on the original prompts. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly calibration: CalibrationReport;
  readonly worstCase: WorstCaseSummary;
}

export interface HelmResults {
  readonly format: 'tuneloop-helm-results';
  /** 2: the file's fields are snake_case (helmResultsJson); 1 had camelCase. */
  readonly formatVersion: 2;
  readonly created: string;
  readonly suite: { readonly name: string; readonly file: string; readonly sha256: string };
  readonly model: { readonly dir: string | undefined; readonly sha256: string };
  readonly adapter: { readonly dir: string; readonly sha256: string } | null;
  readonly settings: {
    readonly shots: number | null;
    readonly limit: number | null;
    readonly tasks: readonly string[] | null;
    readonly subsets: readonly string[] | null;
    readonly batchSize: number;
    readonly maxLength: number;
    readonly metric: 'acc' | 'acc_norm';
    readonly perturbationSeed: number | null;
    /** How instance ids (the perturbation generators' seeds) are formed. */
    readonly instanceIds: string;
    readonly fields: Readonly<Record<string, { readonly input: readonly string[]; readonly references: readonly string[] }>>;
  };
  readonly metricVersions: Readonly<Record<string, number>>;
  readonly perturbations: readonly (PerturbationDescription & { readonly key: string; readonly example: PerturbationExample | null })[];
  readonly data: Readonly<Record<string, { readonly items: number; readonly files: readonly { path: string; sha256: string }[]; readonly sha256: string }>>;
  readonly tasks: readonly HelmTaskReport[];
  readonly overall: {
    readonly items: number;
    /** Item-weighted means of the tasks' own metrics (those every task reports). */
    readonly metrics: Readonly<Record<string, number>>;
    readonly calibration: CalibrationReport;
    /** Pooled over every instance of every task. */
    readonly worstCase: WorstCaseSummary;
  };
  readonly generation: {
    readonly source: string;
    readonly prompts: number;
    readonly maxNewTokens: number;
    readonly strategy: DecodingStrategy;
    readonly records: readonly (Omit<GenerationRecord, 'prompt'> & { readonly promptTail: string })[];
  };
  readonly bias: BiasReport & { readonly wordListsSha256: string };
  readonly toxicity: ToxicityReport & { readonly lexicon: string; readonly lexiconSha256: string; readonly method: string };
  readonly efficiency: {
    readonly scoring: { readonly requests: number; readonly scored: number; readonly scoredTokens: number; readonly seconds: number; readonly tokensPerSecond: number | null; readonly requestsPerSecond: number | null };
    readonly generation: { readonly latency: LatencySummary | null; readonly outputTokens: number; readonly outputTokensPerSecond: number | null; readonly meanPrefillMs: number | null };
    /** VmHWM of this process at the end of the run; null off Linux. */
    readonly peakResidentBytes: number | null;
  };
}

export interface PerturbationExample {
  readonly instance: string;
  readonly before: string;
  readonly after: string;
}

interface Variant {
  readonly task: number;
  readonly item: number;
  /** null for the original item. */
  readonly key: string | null;
  readonly prepared: PreparedItem;
}

export async function runHelmReport(base: BloomModel, tokenizer: TextCodec, suite: BenchmarkSuite, suiteSha256: string, options: HelmRunOptions): Promise<HelmResults> {
  if (options.generation.limit < 0) throw new InvalidInputError('--generation-limit', 'must be >= 0');
  const tasks = await prepareTasks(suite, options.selection);
  const modelHash = base.sourceDir ? hashModelDirectory(base.sourceDir, options.cacheDir) : 'in-memory-model';
  const adapter = options.adapter === null ? null : { dir: options.adapter, sha256: hashModelDirectory(options.adapter, options.cacheDir) };
  const fieldRoles = tasks.map((t) => (options.fields?.input || options.fields?.references ? explicitFieldRoles(t.definition, options.fields.input, options.fields.references) : defaultFieldRoles(t.definition)));

  const examples = new Map<string, PerturbationExample>();
  const variants: Variant[] = [];
  tasks.forEach((task, t) => {
    task.items.forEach((item, i) => {
      variants.push({ task: t, item: i, key: null, prepared: item });
      const texts = instanceTexts(item, fieldRoles[t]);
      const id = instanceId(task, item);
      for (const { key, perturbation } of options.perturbations) {
        const out = perturbInstance(perturbation, id, texts, options.perturbationSeed);
        // HELM's skip_unchanged compares the input only.
        if (out.input.every((text, k) => text === texts.input[k])) continue;
        if (!examples.has(key)) examples.set(key, { instance: id, before: texts.input.join(' | '), after: out.input.join(' | ') });
        variants.push({ task: t, item: i, key, prepared: perturbedItem(task.definition, task.subset, item, fieldRoles[t], out) });
      }
    });
  });
  const perChanged = options.perturbations.map(({ key }) => `${key} ${variants.filter((v) => v.key === key).length}`).join(', ');
  options.onStatus?.(`${variants.filter((v) => v.key === null).length} items; perturbed items by perturbation: ${perChanged || 'none'}`);

  const requests = variants.map((v) => buildRequests(tokenizer, [v.prepared], tasks[v.task].definition.targetDelimiter)[0]);
  const flat = requests.flat();
  const cache = new ScoreCache(options.cacheDir, modelHash, adapter?.sha256 ?? null);
  const missing = new Map<string, number>();
  for (const r of flat) {
    const key = requestKey(r, options.maxLength);
    if (!cache.get(key)) missing.set(key, Math.min(r.context.length + r.continuation.length, options.maxLength));
  }
  const model = adapter === null ? base : applyAdapter(base, adapter.dir);
  let scoring: { scores: { logLikelihood: number }[]; computed: number };
  let scoringMs: number;
  let generations: GenerationRecord[];
  const prompts = (options.generation.prompts ?? tasks.flatMap((t) => t.items.map((item) => item.context))).slice(0, options.generation.limit);
  try {
    const started = performance.now();
    scoring = scoreWithCache(model, flat, cache, { batchSize: options.batchSize, maxLength: options.maxLength, onProgress: (done, total) => options.onProgress?.('scoring', done, total) });
    scoringMs = performance.now() - started;
    generations = generateAll(model, tokenizer, prompts, {
      maxNewTokens: options.generation.maxNewTokens,
      maxLength: options.maxLength,
      strategy: options.generation.strategy,
      onProgress: (done, total) => options.onProgress?.('generating', done, total),
    });
  } finally {
    // A LoRA adapter attaches to the base model itself; detach it, as the benchmark runner does.
    base.linearAdapter = undefined;
  }
  options.onStatus?.(`${flat.length} requests, ${scoring.computed} scored, ${flat.length - scoring.computed} from the cache; ${generations.length} generations`);

  // Outcomes per variant, then per task.
  let cursor = 0;
  const outcomes: ChoiceOutcome[] = variants.map((v, n) => {
    const lls = requests[n].map(() => scoring.scores[cursor++].logLikelihood);
    return { gold: v.prepared.gold, logLikelihoods: lls, choices: v.prepared.choices, groupKey: v.prepared.groupKey };
  });
  const correct = (outcome: ChoiceOutcome) => {
    const p = predictions([outcome]);
    return (options.metric === 'acc' ? p.acc[0] : p.accNorm[0]) === outcome.gold ? 1 : 0;
  };
  const aspects = options.perturbations.map(({ key, perturbation }) => ({ name: key, aspect: perturbation.description.aspect }));
  const allScores: InstanceScores[] = [];
  const allConfidence: { confidence: number; correct: number }[] = [];
  const taskReports: HelmTaskReport[] = tasks.map((task, t) => {
    const scores: InstanceScores[] = task.items.map(() => ({ original: 0, perturbed: {} }));
    const originals: ChoiceOutcome[] = [];
    variants.forEach((v, n) => {
      if (v.task !== t) return;
      if (v.key === null) {
        originals.push(outcomes[n]);
        scores[v.item] = { ...scores[v.item], original: correct(outcomes[n]) };
      } else {
        scores[v.item] = { ...scores[v.item], perturbed: { ...scores[v.item].perturbed, [v.key]: correct(outcomes[n]) } };
      }
    });
    allScores.push(...scores);
    const calibrationItems = originals.map((o) => ({ confidence: Math.max(...softmax(o.logLikelihoods)), correct: predictions([o]).acc[0] === o.gold ? 1 : 0 }));
    allConfidence.push(...calibrationItems);
    return { name: task.name, items: task.items.length, metrics: taskMetrics(task.definition, originals), calibration: calibrationReport(calibrationItems), worstCase: worstCase(scores, aspects) };
  });

  const texts = generations.map((g) => g.text);
  const totalLatency = generations.reduce((s, g) => s + g.latencyMs, 0);
  const outputTokens = generations.reduce((s, g) => s + g.newTokens, 0);
  const scoredTokens = [...missing.values()].reduce((a, b) => a + b, 0);
  const sel = options.selection ?? {};
  return {
    format: 'tuneloop-helm-results',
    formatVersion: 2,
    created: new Date().toISOString(),
    suite: { name: suite.name, file: suite.file, sha256: suiteSha256 },
    model: { dir: base.sourceDir, sha256: modelHash },
    adapter,
    settings: {
      shots: sel.shots ?? null,
      limit: sel.limit ?? null,
      tasks: sel.tasks ?? null,
      subsets: sel.subsets ?? null,
      batchSize: options.batchSize,
      maxLength: options.maxLength,
      metric: options.metric,
      perturbationSeed: options.perturbationSeed ?? null,
      instanceIds: '<task name>:<item position in its split, from 0>',
      fields: Object.fromEntries(tasks.map((t, i) => [t.name, fieldRoles[i]])),
    },
    metricVersions: METRIC_VERSIONS,
    perturbations: options.perturbations.map(({ key, perturbation }) => ({ key, ...perturbation.description, example: examples.get(key) ?? null })),
    data: Object.fromEntries(tasks.map((t) => [t.name, { items: t.items.length, files: t.files, sha256: createHash('sha256').update(t.files.map((f) => f.sha256).join('\n')).digest('hex') }])),
    tasks: taskReports,
    overall: { items: allScores.length, metrics: itemWeighted(taskReports), calibration: calibrationReport(allConfidence), worstCase: worstCase(allScores, aspects) },
    generation: {
      source: options.generation.source,
      prompts: prompts.length,
      maxNewTokens: options.generation.maxNewTokens,
      strategy: options.generation.strategy,
      records: generations.map(({ prompt, ...rest }) => ({ promptTail: prompt.slice(-200), ...rest })),
    },
    bias: { ...biasReport(texts, options.biasWordLists.content), wordListsSha256: options.biasWordLists.sha256 },
    toxicity: {
      ...toxicityReport(texts, options.toxicityLexicon),
      lexicon: options.toxicityLexicon.file,
      lexiconSha256: options.toxicityLexicon.sha256,
      method: 'offline lexicon (highest severity of matched terms, toxic at >= 0.5); not comparable with HELM\'s Perspective API scores',
    },
    efficiency: {
      scoring: {
        requests: flat.length,
        scored: scoring.computed,
        scoredTokens,
        seconds: scoringMs / 1000,
        tokensPerSecond: tokensPerSecond(scoredTokens, scoringMs),
        requestsPerSecond: scoring.computed > 0 && scoringMs > 0 ? scoring.computed / (scoringMs / 1000) : null,
      },
      generation: {
        latency: latencySummary(generations.map((g) => g.latencyMs)),
        outputTokens,
        outputTokensPerSecond: tokensPerSecond(outputTokens, totalLatency),
        meanPrefillMs: generations.length === 0 ? null : generations.reduce((s, g) => s + g.prefillMs, 0) / generations.length,
      },
      peakResidentBytes: peakResidentBytes(),
    },
  };
}

function instanceId(task: PreparedTask, item: PreparedItem): string {
  return `${task.name}:${item.item.index}`;
}

function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

function calibrationReport(items: readonly { confidence: number; correct: number }[]): CalibrationReport {
  const confidences = items.map((i) => i.confidence);
  const correct = items.map((i) => i.correct);
  const options = { bins: 10, binning: 'equal-mass' as const };
  return { items: items.length, ece: expectedCalibrationError(confidences, correct, options), bins: calibrationBins(confidences, correct, options) };
}

function itemWeighted(reports: readonly HelmTaskReport[]): Record<string, number> {
  const shared = Object.keys(reports[0]?.metrics ?? {}).filter((m) => reports.every((r) => m in r.metrics));
  const items = reports.reduce((n, r) => n + r.items, 0);
  return Object.fromEntries(shared.map((m) => [m, reports.reduce((s, r) => s + r.items * r.metrics[m], 0) / items]));
}

/**
 * The results as written to helm-results.json and printed by --json: every field in snake_case; the keys
 * of maps keyed by data (task, metric, perturbation, bias and toxicity category names) kept as they are.
 */
export function helmResultsJson(results: HelmResults): unknown {
  return snakeCaseFields(results, new Set(['fields', 'data', 'metrics', 'metricVersions', 'perturbed', 'scores', 'categories']));
}
