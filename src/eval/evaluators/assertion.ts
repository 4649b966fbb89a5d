import type { CompletionOptions, Judge } from './judge.js';
import type { MetricRegistry } from './metric-registry.js';
import type { PairwiseOutcome } from './pairwise.js';
import type { TrajectoryStep } from './trajectory.js';
import type { Vars } from './template.js';

/** One entry of a test's `assert:` list, checked when the suite was loaded. */
export interface AssertionSpec {
  /** As written, e.g. `not-contains`. */
  readonly type: string;
  readonly value?: unknown;
  readonly threshold?: number;
  /** Share of this assertion in the test's weighted score (default 1); 0 reports it without counting it. */
  readonly weight: number;
  /** The comparison criteria of pairwise and trajectory-judge assertions (each has a default). */
  readonly criteria?: string;
  /** Where it was written, e.g. `tests[2].assert[0]`. */
  readonly field: string;
}

/** What an assertion sees of the test it grades. */
export interface AssertionContext {
  readonly output: string;
  /** The rendered prompt the output was generated from, or a recorded output's input; null when unknown. */
  readonly prompt: string | null;
  readonly vars: Vars;
  /** The agent's tool calls, when the test recorded them; otherwise trajectory assertions read the output. */
  readonly trajectory?: readonly TrajectoryStep[];
  readonly judge?: Judge;
  /** How the judge is asked (answer length, temperature). */
  readonly judgeCompletion?: CompletionOptions;
  readonly metrics: MetricRegistry;
}

/**
 * `pass` and `fail` are grades; `error` means no grade could be given (a judge answer with no verdict),
 * which is reported apart from failures.
 */
export type AssertionStatus = 'pass' | 'fail' | 'error';

export interface AssertionOutcome {
  readonly status: AssertionStatus;
  /** In [0, 1]; 0 for an error. */
  readonly score: number;
  readonly reason: string;
  readonly comparison?: PairwiseOutcome;
}

export interface AssertionResult extends AssertionOutcome {
  readonly type: string;
  readonly field: string;
  readonly weight: number;
}

export function passFail(pass: boolean, reason: string, score = pass ? 1 : 0): AssertionOutcome {
  return { status: pass ? 'pass' : 'fail', score, reason };
}
