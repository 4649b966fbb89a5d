import { InvalidInputError } from '../../errors.js';
import type { AssertionContext, AssertionOutcome, AssertionSpec } from './assertion.js';
import { passFail } from './assertion.js';
import { gradeWithRubric } from './llm-rubric.js';
import type { MetricRegistry } from './metric-registry.js';
import { comparePairwise, pairwiseScore } from './pairwise.js';
import { STRING_EVALUATORS } from './string-evaluators.js';
import { type TrajectoryMatchMode, judgeTrajectory, matchTrajectory, parseTrajectory, trajectoryFromOutput } from './trajectory.js';

/** Assertion types graded by the judge; a suite using any of them needs one. */
export const JUDGED_TYPES = ['llm-rubric', 'pairwise', 'trajectory-judge'] as const;
const TRAJECTORY_MODES: Record<string, TrajectoryMatchMode> = { 'trajectory-exact': 'exact', 'trajectory-in-order': 'in-order', 'trajectory-any-order': 'any-order' };
const TRAJECTORY_TYPES = [...Object.keys(TRAJECTORY_MODES), 'trajectory-judge'];
/** pairwise passes when the candidate is not worse than the baseline (a tie scores 1/2). */
export const DEFAULT_PAIRWISE_THRESHOLD = 0.5;
/** promptfoo's default for its bleu and rouge assertions. */
export const DEFAULT_METRIC_THRESHOLD = 0.5;

export function assertionTypes(metrics: MetricRegistry): string[] {
  return [...Object.keys(STRING_EVALUATORS), ...metrics.names(), ...JUDGED_TYPES.filter((t) => t !== 'trajectory-judge'), ...TRAJECTORY_TYPES];
}

function negated(type: string): { base: string; negate: boolean } {
  return type.startsWith('not-') ? { base: type.slice(4), negate: true } : { base: type, negate: false };
}

/**
 * Checks an assertion when the suite is loaded, so a typo or a bad value fails before any model runs.
 * Throws InvalidInputError naming the field, e.g. `suite.yaml: tests[2].assert[0].value`.
 */
export function checkAssertion(spec: AssertionSpec, metrics: MetricRegistry): void {
  const { base, negate } = negated(spec.type);
  const known = assertionTypes(metrics);
  if (negate && !(base in STRING_EVALUATORS)) {
    throw new InvalidInputError(`${spec.field}.type`, `"${spec.type}": only ${Object.keys(STRING_EVALUATORS).join(', ')} can be negated with not-`);
  }
  if (!known.includes(base)) {
    const hint = ['bleu', 'rouge', 'rouge-1', 'rouge-2', 'rouge-l', 'rouge-n'].includes(base) ? ' (no metric of that name is registered in src/eval/evaluators/metric-registry.ts)' : '';
    throw new InvalidInputError(`${spec.field}.type`, `"${spec.type}" is not an assertion type${hint}; known: ${known.join(', ')}`);
  }
  if (spec.criteria !== undefined && base !== 'pairwise' && base !== 'trajectory-judge') {
    throw new InvalidInputError(`${spec.field}.criteria`, `only pairwise and trajectory-judge take criteria; ${base} does not`);
  }
  const threshold = spec.threshold;
  if (threshold !== undefined && base !== 'levenshtein' && !(threshold >= 0 && threshold <= 1)) {
    throw new InvalidInputError(`${spec.field}.threshold`, `must be a score in [0, 1], got ${threshold}`);
  }
  const stringEvaluator = STRING_EVALUATORS[base];
  if (stringEvaluator) {
    if (threshold !== undefined && base !== 'levenshtein') throw new InvalidInputError(`${spec.field}.threshold`, `${base} passes or fails outright and takes no threshold`);
    stringEvaluator.check(spec);
  } else if (metrics.get(base)) {
    referencesOf(spec);
  } else if (base === 'llm-rubric' || base === 'pairwise') {
    if (typeof spec.value !== 'string' || spec.value === '') {
      throw new InvalidInputError(`${spec.field}.value`, base === 'llm-rubric' ? 'llm-rubric needs the rubric as a non-empty string' : 'pairwise needs the baseline response to compare against, as a string');
    }
  } else if (TRAJECTORY_TYPES.includes(base)) {
    parseTrajectory(spec.value, `${spec.field}.value`);
  }
}

function referencesOf(spec: AssertionSpec): string[] {
  const value = spec.value;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value as string[];
  throw new InvalidInputError(`${spec.field}.value`, `${spec.type} needs the reference text, or a non-empty list of references`);
}

/** Grades one assertion. A judge-graded type without a judge in the context is a caller error. */
export async function evaluateAssertion(spec: AssertionSpec, context: AssertionContext): Promise<AssertionOutcome> {
  const { base, negate } = negated(spec.type);
  const stringEvaluator = STRING_EVALUATORS[base];
  if (stringEvaluator) {
    const outcome = stringEvaluator.evaluate(context.output, spec);
    if (!negate) return outcome;
    const pass = outcome.status !== 'pass';
    return passFail(pass, `not: ${outcome.reason}`, 1 - outcome.score);
  }
  const metric = context.metrics.get(base);
  if (metric) {
    const score = metric(context.output, referencesOf(spec));
    const threshold = spec.threshold ?? DEFAULT_METRIC_THRESHOLD;
    return passFail(score >= threshold, `${base} ${score.toFixed(4)} ${score >= threshold ? '>=' : '<'} ${threshold}`, score);
  }
  if (TRAJECTORY_TYPES.includes(base)) return evaluateTrajectory(base, spec, context);

  const judge = context.judge;
  if (!judge) throw new InvalidInputError(`${spec.field}.type`, `${base} needs a judge, and none was given`);
  if (base === 'llm-rubric') {
    return gradeWithRubric(judge, context.output, spec.value as string, { input: context.prompt, threshold: spec.threshold, completion: context.judgeCompletion });
  }
  // pairwise: the output under test is the candidate, the assertion's value the baseline.
  const result = await comparePairwise(judge, context.output, spec.value as string, { criteria: spec.criteria, input: context.prompt, completion: context.judgeCompletion });
  if (!result.ok) return { status: 'error', score: 0, reason: `the judge's answer has no usable verdict ${result.problem}` };
  const { outcome } = result;
  const score = pairwiseScore(outcome.winner);
  const threshold = spec.threshold ?? DEFAULT_PAIRWISE_THRESHOLD;
  const orders = outcome.consistent ? 'both orders agree' : `the orders disagree (candidate first: ${outcome.byOrder[0]}; baseline first: ${outcome.byOrder[1]})`;
  return { ...passFail(score >= threshold, `${outcome.winner === 'tie' ? 'tie' : `${outcome.winner} wins`}: ${orders}`, score), comparison: outcome };
}

async function evaluateTrajectory(base: string, spec: AssertionSpec, context: AssertionContext): Promise<AssertionOutcome> {
  const reference = parseTrajectory(spec.value, `${spec.field}.value`);
  let actual = context.trajectory;
  if (actual === undefined) {
    const parsed = trajectoryFromOutput(context.output);
    if (!parsed.ok) return passFail(false, parsed.problem);
    actual = parsed.steps;
  }
  if (base !== 'trajectory-judge') return matchTrajectory(TRAJECTORY_MODES[base], reference, actual);
  if (!context.judge) throw new InvalidInputError(`${spec.field}.type`, 'trajectory-judge needs a judge, and none was given');
  return judgeTrajectory(context.judge, reference, actual, { criteria: spec.criteria, task: context.prompt, threshold: spec.threshold, completion: context.judgeCompletion });
}
