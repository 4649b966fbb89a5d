import { InvalidInputError } from '../../errors.js';
import { type AssertionOutcome, passFail } from './assertion.js';
import { canonicalJson } from './canonical-json.js';
import type { CompletionOptions, Judge } from './judge.js';
import { gradeOutcome } from './llm-rubric.js';

/** One tool call of an agent: the tool's name, its arguments, and optionally what it returned. */
export interface TrajectoryStep {
  readonly name: string;
  readonly arguments: unknown;
  readonly result?: unknown;
}

export type TrajectoryMatchMode = 'exact' | 'in-order' | 'any-order';

/**
 * Reads a trajectory: a list of `{name, arguments, result}` steps. `arguments` may be a JSON object or,
 * as OpenAI's tool_calls carry it, a string of JSON; a missing one means `{}`. OpenAI-style steps
 * `{function: {name, arguments}}` are accepted too. Throws InvalidInputError naming `field[i]` otherwise.
 */
export function parseTrajectory(value: unknown, field: string): TrajectoryStep[] {
  if (!Array.isArray(value)) throw new InvalidInputError(field, 'a trajectory must be a list of tool calls {name, arguments, result}');
  return value.map((raw, i) => {
    const where = `${field}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidInputError(where, 'a tool call must be a mapping {name, arguments, result}');
    const step = raw as Record<string, unknown>;
    const call = (typeof step.function === 'object' && step.function !== null ? step.function : step) as Record<string, unknown>;
    if (typeof call.name !== 'string' || call.name === '') throw new InvalidInputError(`${where}.name`, 'is required: the tool name');
    let args: unknown = call.arguments ?? {};
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args) as unknown;
      } catch {
        throw new InvalidInputError(`${where}.arguments`, `is a string that is not JSON: ${JSON.stringify(args)}`);
      }
    }
    return 'result' in step ? { name: call.name, arguments: args, result: step.result } : { name: call.name, arguments: args };
  });
}

/**
 * The trajectory in an agent's output text: a JSON list of steps, or an object holding one under
 * `trajectory`, `tool_calls` or `steps`. Returns a problem, not a throw: a bad output is a failed test.
 */
export function trajectoryFromOutput(output: string): { ok: true; steps: TrajectoryStep[] } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(output);
  } catch {
    return { ok: false, problem: 'the output is not JSON, so it holds no trajectory' };
  }
  const list = Array.isArray(json) ? json : ['trajectory', 'tool_calls', 'steps'].map((k) => (json as Record<string, unknown> | null)?.[k]).find(Array.isArray);
  if (list === undefined) return { ok: false, problem: 'the output JSON is neither a list of tool calls nor an object with a trajectory, tool_calls or steps list' };
  try {
    return { ok: true, steps: parseTrajectory(list, 'output') };
  } catch (error) {
    return { ok: false, problem: (error as Error).message };
  }
}

/**
 * A reference step matches an actual step when the names are equal and the arguments are equal as
 * canonical JSON (key order and whitespace do not matter); when the reference gives a result, the results
 * must match the same way. Leaving `result` out of the reference means "any result".
 */
export function stepMatches(reference: TrajectoryStep, actual: TrajectoryStep): boolean {
  if (reference.name !== actual.name || canonicalJson(reference.arguments) !== canonicalJson(actual.arguments)) return false;
  return reference.result === undefined || (actual.result !== undefined && canonicalJson(reference.result) === canonicalJson(actual.result));
}

/**
 * Compares an agent's trajectory with a reference:
 * - `exact`: the same steps in the same order, nothing more. Score: 1 or 0.
 * - `in-order`: the reference is a subsequence of the actual trajectory (other calls may come between).
 *   Score: the longest common subsequence over the reference length.
 * - `any-order`: the same steps as multisets, order ignored, nothing more or less. Score: the largest
 *   one-to-one matching over the longer trajectory's length.
 */
export function matchTrajectory(mode: TrajectoryMatchMode, reference: readonly TrajectoryStep[], actual: readonly TrajectoryStep[]): AssertionOutcome {
  const describe = (steps: readonly TrajectoryStep[]) => (steps.length === 0 ? '(none)' : steps.map((s) => s.name).join(' -> '));
  if (mode === 'exact') {
    const firstDifference = Array.from({ length: Math.max(reference.length, actual.length) }, (_, i) => i).find(
      (i) => i >= reference.length || i >= actual.length || !stepMatches(reference[i], actual[i]),
    );
    if (firstDifference === undefined) return passFail(true, `the ${actual.length} calls match the reference exactly`);
    return passFail(false, `call ${firstDifference + 1} differs: expected ${describeStep(reference[firstDifference])}, got ${describeStep(actual[firstDifference])}`);
  }
  if (mode === 'in-order') {
    const matched = longestCommonSubsequence(reference, actual);
    const score = reference.length === 0 ? 1 : matched / reference.length;
    if (matched === reference.length) return passFail(true, `the reference's ${reference.length} calls appear in order`, score);
    return passFail(false, `only ${matched} of the reference's ${reference.length} calls appear in order (reference: ${describe(reference)}; actual: ${describe(actual)})`, score);
  }
  const { matched, unmatchedReference, unmatchedActual } = maximumMatching(reference, actual);
  const longest = Math.max(reference.length, actual.length);
  const score = longest === 0 ? 1 : matched / longest;
  if (unmatchedReference.length === 0 && unmatchedActual.length === 0) return passFail(true, `the ${actual.length} calls match the reference in some order`, score);
  const parts = [];
  if (unmatchedReference.length > 0) parts.push(`missing ${unmatchedReference.map(describeStep).join(', ')}`);
  if (unmatchedActual.length > 0) parts.push(`unexpected ${unmatchedActual.map(describeStep).join(', ')}`);
  return passFail(false, parts.join('; '), score);
}

function describeStep(step: TrajectoryStep | undefined): string {
  if (step === undefined) return 'no call';
  const text = `${step.name}(${canonicalJson(step.arguments)})`;
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}

function longestCommonSubsequence(reference: readonly TrajectoryStep[], actual: readonly TrajectoryStep[]): number {
  let previous = new Array<number>(actual.length + 1).fill(0);
  for (const ref of reference) {
    const current = [0];
    for (let j = 1; j <= actual.length; j++) {
      current.push(stepMatches(ref, actual[j - 1]) ? previous[j - 1] + 1 : Math.max(previous[j], current[j - 1]));
    }
    previous = current;
  }
  return previous[actual.length];
}

/**
 * The largest one-to-one pairing of reference and actual steps (augmenting paths): a greedy pairing could
 * spend an actual step on a reference step that matches others too, since a result-less reference step
 * matches more broadly than one with a result.
 */
function maximumMatching(reference: readonly TrajectoryStep[], actual: readonly TrajectoryStep[]) {
  const actualOwner = new Array<number>(actual.length).fill(-1);
  const tryAssign = (r: number, seen: boolean[]): boolean => {
    for (let a = 0; a < actual.length; a++) {
      if (seen[a] || !stepMatches(reference[r], actual[a])) continue;
      seen[a] = true;
      if (actualOwner[a] < 0 || tryAssign(actualOwner[a], seen)) {
        actualOwner[a] = r;
        return true;
      }
    }
    return false;
  };
  const assigned = reference.map((_, r) => tryAssign(r, new Array<boolean>(actual.length).fill(false)));
  return {
    matched: assigned.filter(Boolean).length,
    unmatchedReference: reference.filter((_, r) => !assigned[r]),
    unmatchedActual: actual.filter((_, a) => actualOwner[a] < 0),
  };
}

/**
 * The judge prompt for a trajectory: the task, the reference and actual calls one per line as canonical
 * JSON, and the criteria (by default: does the agent reach the task's goal with calls equivalent to the
 * reference's, without harmful or needless ones?). The verdict format is llm-rubric's.
 */
export function trajectoryJudgePrompt(reference: readonly TrajectoryStep[], actual: readonly TrajectoryStep[], criteria: string, task: string | null): string {
  const lines = (steps: readonly TrajectoryStep[]) => (steps.length === 0 ? '(no calls)' : steps.map((s, i) => `${i + 1}. ${canonicalJson(s)}`).join('\n'));
  const parts = ["You are grading an AI agent's tool calls against a reference trajectory.", ''];
  if (task !== null) parts.push('[Task]', task, '');
  parts.push('[Reference trajectory]', lines(reference), '', '[Agent trajectory]', lines(actual), '', '[Criteria]', criteria, '');
  parts.push(
    "Does the agent's trajectory satisfy the criteria? Reply with only a JSON object on one line:",
    '{"reason": "<one sentence>", "pass": true or false, "score": <a number from 0 to 1>}',
  );
  return parts.join('\n');
}

export const DEFAULT_TRAJECTORY_CRITERIA =
  "The agent's calls accomplish what the reference trajectory accomplishes: equivalent tools with equivalent arguments, in an order that works, with no harmful or needless calls.";

export async function judgeTrajectory(
  judge: Judge,
  reference: readonly TrajectoryStep[],
  actual: readonly TrajectoryStep[],
  options: { criteria?: string; task?: string | null; threshold?: number; completion?: CompletionOptions } = {},
): Promise<AssertionOutcome> {
  const answer = await judge.complete(trajectoryJudgePrompt(reference, actual, options.criteria ?? DEFAULT_TRAJECTORY_CRITERIA, options.task ?? null), options.completion);
  return gradeOutcome(answer, options.threshold);
}
