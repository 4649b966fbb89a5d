import type { AssertionOutcome } from './assertion.js';
import type { CompletionOptions, Judge } from './judge.js';
import { parseGradeVerdict } from './verdict.js';

/** Used when an llm-rubric assertion gives no threshold and the judge gives a score but no pass/fail. */
export const DEFAULT_RUBRIC_PASS_SCORE = 0.5;

/**
 * The judge prompt for a rubric. The response is fenced with <<< >>> so that instructions inside it read
 * as content; the judge is asked for a one-line JSON verdict, which parseGradeVerdict reads (and also
 * accepts in looser forms):
 *
 *   You are grading a response against a rubric.
 *   [Input] <the prompt, when the output was generated from one>
 *   [Response] <<< output >>>
 *   [Rubric] <rubric>
 *   Does the response satisfy the rubric? Reply with only a JSON object on one line:
 *   {"reason": "<one sentence>", "pass": true or false, "score": <a number from 0 to 1>}
 */
export function rubricPrompt(output: string, rubric: string, input: string | null): string {
  const parts = ['You are grading a response against a rubric. Judge only what the rubric asks about.', ''];
  if (input !== null) parts.push('[Input]', input, '');
  parts.push('[Response]', '<<<', output, '>>>', '', '[Rubric]', rubric, '');
  parts.push(
    'Does the response satisfy the rubric? Reply with only a JSON object on one line:',
    '{"reason": "<one sentence>", "pass": true or false, "score": <a number from 0 to 1>}',
  );
  return parts.join('\n');
}

/**
 * Grades `output` by `rubric` with the judge; see gradeOutcome for how the answer becomes pass or fail.
 */
export async function gradeWithRubric(
  judge: Judge,
  output: string,
  rubric: string,
  options: { input?: string | null; threshold?: number; completion?: CompletionOptions } = {},
): Promise<AssertionOutcome> {
  const answer = await judge.complete(rubricPrompt(output, rubric, options.input ?? null), options.completion);
  return gradeOutcome(answer, options.threshold);
}

/**
 * A judge's grading answer as an outcome. With a threshold, the test is score >= threshold (a judge that
 * only says pass/fail scores 1/0); without one, the judge's pass/fail decides, or its score against
 * DEFAULT_RUBRIC_PASS_SCORE when it gave only a score. An answer with no verdict is an `error` outcome
 * that quotes the answer.
 */
export function gradeOutcome(answer: string, threshold: number | undefined): AssertionOutcome {
  const verdict = parseGradeVerdict(answer);
  if (!verdict.ok) {
    const quoted = answer.length > 160 ? `${answer.slice(0, 160)}...` : answer;
    return { status: 'error', score: 0, reason: `the judge's answer has no usable verdict (${verdict.problem}): ${JSON.stringify(quoted)}` };
  }
  const { pass, score, reason } = verdict.value;
  const effectiveScore = score ?? (pass ? 1 : 0);
  const passed = threshold !== undefined ? effectiveScore >= threshold : (pass ?? effectiveScore >= DEFAULT_RUBRIC_PASS_SCORE);
  return { status: passed ? 'pass' : 'fail', score: effectiveScore, reason };
}
