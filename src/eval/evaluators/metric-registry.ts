import { InvalidInputError } from '../../errors.js';
import { sentenceBleu } from '../metrics/bleu.js';
import { sentenceChrf } from '../metrics/chrf.js';
import { scoreRougeMulti } from '../metrics/rouge.js';

/** A reference-based text metric: higher is better, typically in [0, 1]. */
export type MetricFunction = (hypothesis: string, references: readonly string[]) => number;

/**
 * The metrics an assertion can name as its `type` (`type: bleu`, `threshold: 0.3`, `value`: the reference or
 * a list of references). The metrics themselves live in src/eval/metrics; each is plugged in here with one
 * line in BUILTIN_METRICS, adapting its signature where needed, e.g.
 * `bleu: (hypothesis, references) => sentenceBleu(hypothesis, references),`.
 */
const BUILTIN_METRICS: Record<string, MetricFunction> = {
  // sacreBLEU's sentence BLEU and chrF (0-100) scaled to [0, 1], so thresholds read like promptfoo's.
  bleu: (hypothesis, references) => sentenceBleu(hypothesis, references).score / 100,
  chrf: (hypothesis, references) => sentenceChrf(hypothesis, references).score / 100,
  // rouge-score's F-measure, without stemming (its default), against the best of the references.
  'rouge-1': (hypothesis, references) => scoreRougeMulti(references, hypothesis, { types: ['rouge1'] }).rouge1.fmeasure,
  'rouge-2': (hypothesis, references) => scoreRougeMulti(references, hypothesis, { types: ['rouge2'] }).rouge2.fmeasure,
  'rouge-l': (hypothesis, references) => scoreRougeMulti(references, hypothesis, { types: ['rougeL'] }).rougeL.fmeasure,
  'rouge-lsum': (hypothesis, references) => scoreRougeMulti(references, hypothesis, { types: ['rougeLsum'] }).rougeLsum.fmeasure,
};

export class MetricRegistry {
  private readonly metrics = new Map<string, MetricFunction>();

  constructor(initial: Record<string, MetricFunction> = {}) {
    for (const [name, metric] of Object.entries(initial)) this.register(name, metric);
  }

  register(name: string, metric: MetricFunction): void {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new InvalidInputError(`metric "${name}"`, 'a metric name uses lower-case letters, digits and - only');
    if (this.metrics.has(name)) throw new InvalidInputError(`metric "${name}"`, 'is already registered');
    this.metrics.set(name, metric);
  }

  get(name: string): MetricFunction | undefined {
    return this.metrics.get(name);
  }

  names(): string[] {
    return [...this.metrics.keys()].sort();
  }
}

/** A registry holding the built-in metrics; callers may register more. */
export function defaultMetricRegistry(): MetricRegistry {
  return new MetricRegistry(BUILTIN_METRICS);
}
