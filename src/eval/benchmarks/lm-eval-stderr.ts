import { PythonRandom } from '../helm/python-random.js';
import type { MetricFunctions } from './scoring.js';

/**
 * Standard errors as lm-evaluation-harness computes them (lm_eval/api/metrics.py and
 * evaluator_utils.py, checked at EleutherAI/lm-evaluation-harness 4e7e0d47 and v0.4.9.2):
 *
 * - a metric aggregated by `mean` (acc, acc_norm, ROUGE): `mean_stderr`, the sample standard deviation
 *   (ddof 1) of the per-item values over sqrt(n);
 * - MultiRC's all-answers-right metric (lm-eval's `acc_all`): `acc_all_stderr`, mean_stderr of the
 *   per-question 0/1 values;
 * - an aggregation over the whole set in lm-eval's bootstrappable list (matthews_corrcoef, f1, bleu,
 *   chrf, ter): `bootstrap_stderr`, the sample standard deviation of the metric over `iters` resamples
 *   drawn in chunks of min(1000, iters), chunk i from Python's `random.Random(i)` with
 *   `choices(xs, k=len(xs))` (index floor(random() * n) per draw); bleu, chrf and ter use
 *   min(iters, 100) resamples;
 * - any other aggregation (CB's macro F1 `cb_multi_fi`, and ECE, which lm-eval lacks): "N/A", as is
 *   every metric of a task with a single item;
 * - a group: `pooled_sample_stderr` of its tasks' stderrs weighted by their sizes, "N/A" when any is.
 *
 * Sums run left to right as Python 3.11's `sum` adds floats.
 */
export type StderrKind = 'mean' | 'acc_all' | 'bootstrap' | 'bootstrap_corpus' | 'none';

/** How lm-eval gets each metric's standard error. */
export const LM_EVAL_STDERR: Readonly<Record<string, StderrKind>> = {
  acc: 'mean',
  acc_norm: 'mean',
  f1_macro: 'none',
  mcc: 'bootstrap',
  ece: 'none',
  exact_match_grouped: 'acc_all',
  f1a: 'bootstrap',
  bleu: 'bootstrap_corpus',
  chrf: 'bootstrap_corpus',
  ter: 'bootstrap_corpus',
  rouge1: 'mean',
  rouge2: 'mean',
  rougeL: 'mean',
  rougeLsum: 'mean',
};

/** lm-eval's default `--bootstrap_iters`. */
export const LM_EVAL_BOOTSTRAP_ITERS = 100000;

/** "N/A" where lm-eval reports no standard error. */
export type Stderr = number | 'N/A';

function pythonMean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** lm-eval's `sample_stddev`: sqrt(sum((x - mean)^2) / (n - 1)). */
export function sampleStddev(values: readonly number[]): number {
  const mu = pythonMean(values);
  let sum = 0;
  for (const v of values) sum += (v - mu) ** 2;
  return Math.sqrt(sum / (values.length - 1));
}

/** lm-eval's `mean_stderr`. */
export function meanStderr(values: readonly number[]): number {
  return sampleStddev(values) / Math.sqrt(values.length);
}

/** lm-eval's `bootstrap_stderr` of a metric of item indices over n items, draw for draw. */
export function bootstrapStderr(metric: (indices: readonly number[]) => number, n: number, iters: number): number {
  const chunk = Math.min(1000, iters);
  const values: number[] = [];
  const indices = new Array<number>(n);
  for (let c = 0; c < Math.floor(iters / chunk); c++) {
    const rng = new PythonRandom(c);
    for (let k = 0; k < chunk; k++) {
      for (let j = 0; j < n; j++) indices[j] = Math.floor(rng.random() * n);
      values.push(metric(indices));
    }
  }
  return sampleStddev(values);
}

/** lm-eval's `pooled_sample_stderr`: sqrt(sum((n_i - 1) * se_i^2 * n_i) / (sum n_i - k) / sum n_i). */
export function pooledSampleStderr(stderrs: readonly number[], sizes: readonly number[]): number {
  let pooled = 0;
  let total = 0;
  stderrs.forEach((se, i) => {
    pooled += (sizes[i] - 1) * se ** 2 * sizes[i];
  });
  for (const size of sizes) total += size;
  return Math.sqrt(pooled / (total - sizes.length) / total);
}

/**
 * Each metric's standard error for a task of `items` items, from its metric functions (a mean metric's
 * per-item value is the metric of that item alone). `groupKeys` are the items' question keys, which
 * the all-answers-right metric needs.
 */
export function taskStderrs(functions: MetricFunctions, items: number, groupKeys: readonly (string | null)[] | null, bootstrapIters: number): Record<string, Stderr> {
  const out: Record<string, Stderr> = {};
  for (const [name, metric] of Object.entries(functions)) {
    const kind = LM_EVAL_STDERR[name] ?? 'none';
    if (items <= 1 || kind === 'none' || bootstrapIters <= 0) {
      out[name] = 'N/A';
    } else if (kind === 'mean') {
      out[name] = meanStderr(Array.from({ length: items }, (_, i) => metric([i])));
    } else if (kind === 'acc_all') {
      const questions = new Map<string, number[]>();
      (groupKeys ?? []).forEach((key, i) => {
        const members = questions.get(key ?? '');
        if (members) members.push(i);
        else questions.set(key ?? '', [i]);
      });
      out[name] = meanStderr([...questions.values()].map((members) => metric(members)));
    } else {
      out[name] = bootstrapStderr(metric, items, kind === 'bootstrap_corpus' ? Math.min(bootstrapIters, 100) : bootstrapIters);
    }
  }
  return out;
}

/** A group's stderr of one metric: pooled over its tasks, "N/A" when any task has none. */
export function groupStderr(members: readonly { items: number; stderr?: Readonly<Record<string, Stderr>> }[], metric: string): Stderr {
  const stderrs = members.map((m) => m.stderr?.[metric] ?? 'N/A');
  if (stderrs.some((s) => s === 'N/A')) return 'N/A';
  return pooledSampleStderr(stderrs as number[], members.map((m) => m.items));
}
