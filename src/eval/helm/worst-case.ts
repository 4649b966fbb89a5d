import type { PerturbationAspect } from './perturbation.js';

/**
 * HELM's worst-case arithmetic (helm/benchmark/metrics/metric.py, `compute_worst_case_metrics`), for a
 * per-instance score (1/0 correctness). HELM runs with include_original and skip_unchanged, so an
 * instance has a perturbed score for a perturbation only when that perturbation changed its input.
 *
 * - per perturbation, over the instances it changed: the mean perturbed score ("perturbed"), the mean
 *   original score of the same instances ("original"), and the mean of min(original, perturbed)
 *   ("worst");
 * - robustness and fairness, over ALL instances: the mean of min(original, every perturbed score of
 *   that aspect); an instance no perturbation changed counts with its original score.
 * `all` adds what the bar chart shows: the mean over all instances with the perturbation applied
 * (unchanged instances keep their original score).
 */
export interface InstanceScores {
  readonly original: number;
  /** Perturbation name -> score on the perturbed instance; absent when it did not change the input. */
  readonly perturbed: Readonly<Record<string, number>>;
}

export interface PerturbationSummary {
  readonly name: string;
  readonly aspect: PerturbationAspect;
  /** Instances whose input the perturbation changed. */
  readonly changed: number;
  /** Means over the changed instances; null when it changed none. */
  readonly perturbed: number | null;
  readonly original: number | null;
  readonly worst: number | null;
  /** Mean over all instances, unchanged ones at their original score. */
  readonly all: number;
}

export interface WorstCaseSummary {
  readonly instances: number;
  readonly original: number;
  /** Worst case over the original and every robustness (fairness) perturbation; null when none ran. */
  readonly robustness: number | null;
  readonly fairness: number | null;
  readonly perturbations: readonly PerturbationSummary[];
}

const mean = (values: readonly number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);

export function worstCase(instances: readonly InstanceScores[], perturbations: readonly { name: string; aspect: PerturbationAspect }[]): WorstCaseSummary {
  if (instances.length === 0) throw new RangeError('worst-case metrics need at least one instance');
  const aspectWorst = (aspect: PerturbationAspect): number | null => {
    const names = perturbations.filter((p) => p.aspect === aspect).map((p) => p.name);
    if (names.length === 0) return null;
    return mean(instances.map((s) => Math.min(s.original, ...names.flatMap((n) => (n in s.perturbed ? [s.perturbed[n]] : [])))));
  };
  const summaries = perturbations.map(({ name, aspect }): PerturbationSummary => {
    const changed = instances.filter((s) => name in s.perturbed);
    return {
      name,
      aspect,
      changed: changed.length,
      perturbed: mean(changed.map((s) => s.perturbed[name])),
      original: mean(changed.map((s) => s.original)),
      worst: mean(changed.map((s) => Math.min(s.original, s.perturbed[name]))),
      all: mean(instances.map((s) => (name in s.perturbed ? s.perturbed[name] : s.original)))!,
    };
  });
  return { instances: instances.length, original: mean(instances.map((s) => s.original))!, robustness: aspectWorst('robustness'), fairness: aspectWorst('fairness'), perturbations: summaries };
}
