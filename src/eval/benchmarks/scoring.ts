import { pythonLength } from '../python-text.js';
import { expectedCalibrationError } from '../metrics/calibration.js';
import { accuracy, binaryF1, macroF1, matthewsCorrelation } from '../metrics/classification.js';
import { type ConfidenceInterval, bootstrapConfidenceInterval } from '../metrics/bootstrap.js';
import type { TaskDefinition } from './definition.js';

/**
 * Multiple-choice metrics from choice log-likelihoods, as lm-evaluation-harness's multiple_choice
 * process_results: the prediction is the first choice of highest log-likelihood; acc_norm divides each
 * by its choice's length in characters.
 */
export interface ChoiceOutcome {
  readonly gold: number;
  readonly logLikelihoods: readonly number[];
  readonly choices: readonly string[];
  readonly groupKey: string | null;
}

/** Bumped when a metric's definition changes, and recorded in results files. */
export const METRIC_VERSIONS: Readonly<Record<string, number>> = {
  acc: 1,
  acc_norm: 1,
  f1_macro: 1,
  mcc: 1,
  ece: 1,
  exact_match_grouped: 1,
  f1a: 1,
  bleu: 1,
  chrf: 1,
  ter: 1,
  rouge1: 1,
  rouge2: 1,
  rougeL: 1,
  rougeLsum: 1,
};

/** Each metric of a task as a function of the indices of the items it is computed over (all of them, or a resample). */
export type MetricFunctions = Record<string, (indices: readonly number[]) => number>;

/**
 * The multiple-choice metrics as functions of item indices. Each item's predictions (plain and
 * length-normalised), confidence and correctness are computed once, so a resample (percentile
 * bootstrap, lm-eval's bootstrap stderr) only gathers them for its indices.
 */
export function choiceMetricFunctions(task: TaskDefinition, outcomes: readonly ChoiceOutcome[]): MetricFunctions {
  const golds = outcomes.map((o) => o.gold);
  const { acc: preds, accNorm } = predictions(outcomes);
  const pick = <T>(values: readonly T[], indices: readonly number[]) => indices.map((i) => values[i]);
  const functions: MetricFunctions = {};
  for (const metric of task.metrics) {
    switch (metric) {
      case 'acc':
        functions.acc = (indices) => accuracy(pick(golds, indices), pick(preds, indices));
        break;
      case 'acc_norm':
        functions.acc_norm = (indices) => accuracy(pick(golds, indices), pick(accNorm, indices));
        break;
      case 'f1_macro': {
        const labels = task.docToChoice!.map((_, i) => i);
        functions.f1_macro = (indices) => macroF1(pick(golds, indices), pick(preds, indices), labels);
        break;
      }
      case 'mcc':
        functions.mcc = (indices) => matthewsCorrelation(pick(golds, indices), pick(preds, indices));
        break;
      case 'ece': {
        const confidences = outcomes.map((o) => Math.max(...softmax(o.logLikelihoods)));
        const correct = preds.map((p, i) => p === golds[i]);
        functions.ece = (indices) => expectedCalibrationError(pick(confidences, indices), pick(correct, indices), { bins: 10, binning: 'equal-mass' });
        break;
      }
      case 'exact_match_grouped':
        functions.exact_match_grouped = (indices) => {
          const allRight = new Map<string, boolean>();
          for (const i of indices) allRight.set(outcomes[i].groupKey!, (allRight.get(outcomes[i].groupKey!) ?? true) && preds[i] === golds[i]);
          return [...allRight.values()].filter(Boolean).length / allRight.size;
        };
        break;
      case 'f1a':
        functions.f1a = (indices) => binaryF1(pick(golds, indices), pick(preds, indices), task.positiveChoice!);
        break;
    }
  }
  return functions;
}

export interface BootstrapSettings {
  /** Resamples per metric (default 1000). */
  readonly samples: number;
  readonly seed: number;
  readonly confidence: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { samples: 1000, seed: 1234, confidence: 0.95 };

/** The default settings with `samples` resamples and `seed`; none (no intervals) for 0 samples. */
export function bootstrapSettings(samples: number, seed: number): BootstrapSettings | null {
  return samples === 0 ? null : { ...DEFAULT_BOOTSTRAP, samples, seed };
}

/**
 * Every metric on all items and, unless bootstrap is null, its percentile bootstrap interval: items are
 * resampled with replacement and the metric recomputed (a corpus metric such as BLEU is recomputed on
 * the resampled corpus). The same seed draws the same resamples for every metric.
 */
export function metricsWithIntervals(functions: MetricFunctions, items: number, bootstrap: BootstrapSettings | null): { metrics: Record<string, number>; intervals: Record<string, { lower: number; upper: number }> | null } {
  const all = Array.from({ length: items }, (_, i) => i);
  const metrics: Record<string, number> = {};
  if (bootstrap === null) {
    for (const [name, metric] of Object.entries(functions)) metrics[name] = metric(all);
    return { metrics, intervals: null };
  }
  const intervals: Record<string, { lower: number; upper: number }> = {};
  for (const [name, metric] of Object.entries(functions)) {
    const interval: ConfidenceInterval = bootstrapConfidenceInterval(all, metric, bootstrap);
    metrics[name] = interval.estimate;
    intervals[name] = { lower: interval.lower, upper: interval.upper };
  }
  return { metrics, intervals };
}

export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export function predictions(outcomes: readonly ChoiceOutcome[]): { acc: number[]; accNorm: number[] } {
  return {
    acc: outcomes.map((o) => argmax(o.logLikelihoods)),
    accNorm: outcomes.map((o) => argmax(o.logLikelihoods.map((ll, i) => ll / pythonLength(o.choices[i])))),
  };
}

/** The task's metrics over all its items. */
export function taskMetrics(task: TaskDefinition, outcomes: readonly ChoiceOutcome[]): Record<string, number> {
  const all = outcomes.map((_, i) => i);
  return Object.fromEntries(Object.entries(choiceMetricFunctions(task, outcomes)).map(([metric, f]) => [metric, f(all)]));
}

function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export interface GroupAggregate {
  readonly tasks: number;
  readonly items: number;
  /** Item-weighted mean of the tasks' values (lm-eval's weight_by_size). */
  readonly micro: Record<string, number>;
  /** Unweighted mean over tasks. */
  readonly macro: Record<string, number>;
}

/** Averages the metrics every member task reports. */
export function aggregate(members: readonly { items: number; metrics: Record<string, number> }[]): GroupAggregate {
  const shared = Object.keys(members[0]?.metrics ?? {}).filter((m) => members.every((t) => m in t.metrics));
  const items = members.reduce((n, t) => n + t.items, 0);
  const micro: Record<string, number> = {};
  const macro: Record<string, number> = {};
  for (const m of shared) {
    micro[m] = members.reduce((s, t) => s + t.items * t.metrics[m], 0) / items;
    macro[m] = members.reduce((s, t) => s + t.metrics[m], 0) / members.length;
  }
  return { tasks: members.length, items, micro, macro };
}
