import type { CompletionOptions, Judge } from './judge.js';
import { type PairwiseChoice, parsePairwiseVerdict } from './verdict.js';

export const DEFAULT_PAIRWISE_CRITERIA = 'Which response is more helpful, correct and clear for the input?';

/**
 * The judge prompt for one order of a comparison (the MT-Bench pairwise format, shortened):
 *
 *   You are comparing two responses to the same input. ...
 *   [Input] <input, when known>   [Criteria] <criteria>
 *   [Response A] <<< first >>>    [Response B] <<< second >>>
 *   ... End with your verdict on its own line: [[A]] if Response A is better, [[B]] if Response B is
 *   better, or [[C]] for a tie.
 */
export function pairwisePrompt(first: string, second: string, criteria: string, input: string | null): string {
  const parts = [
    'You are comparing two responses to the same input. Do not let the order in which they are shown,',
    'their length, or their style sway you; judge them only by the criteria.',
    '',
  ];
  if (input !== null) parts.push('[Input]', input, '');
  parts.push('[Criteria]', criteria, '', '[Response A]', '<<<', first, '>>>', '', '[Response B]', '<<<', second, '>>>', '');
  parts.push('Explain briefly, then end with your verdict on its own line: [[A]] if Response A is better, [[B]] if Response B is better, or [[C]] for a tie.');
  return parts.join('\n');
}

export type PairwiseWinner = 'candidate' | 'baseline' | 'tie';

export interface PairwiseOutcome {
  readonly winner: PairwiseWinner;
  /** The winner as read from each order: candidate shown first, then baseline shown first. */
  readonly byOrder: readonly [PairwiseWinner, PairwiseWinner];
  /** Both orders named the same winner (or both said tie). */
  readonly consistent: boolean;
  readonly judgeAnswers: readonly [string, string];
}

export type PairwiseResult = { readonly ok: true; readonly outcome: PairwiseOutcome } | { readonly ok: false; readonly problem: string; readonly judgeAnswers: readonly [string, string] };

/**
 * Compares `candidate` with `baseline` by asking the judge twice, once with each in position A, to cancel
 * position bias. The rule: a response wins only when both orders name it; when the orders disagree (one
 * says candidate, the other baseline, or one says tie) the comparison is a tie. So a judge that always
 * prefers whichever response comes first yields ties, never wins. If either answer has no verdict, the
 * comparison fails with the problem instead of guessing.
 */
export async function comparePairwise(
  judge: Judge,
  candidate: string,
  baseline: string,
  options: { criteria?: string; input?: string | null; completion?: CompletionOptions } = {},
): Promise<PairwiseResult> {
  const criteria = options.criteria ?? DEFAULT_PAIRWISE_CRITERIA;
  const input = options.input ?? null;
  const candidateFirst = await judge.complete(pairwisePrompt(candidate, baseline, criteria, input), options.completion);
  const baselineFirst = await judge.complete(pairwisePrompt(baseline, candidate, criteria, input), options.completion);
  const judgeAnswers = [candidateFirst, baselineFirst] as const;
  const first = parsePairwiseVerdict(candidateFirst);
  if (!first.ok) return { ok: false, problem: `with the candidate shown first: ${first.problem}`, judgeAnswers };
  const second = parsePairwiseVerdict(baselineFirst);
  if (!second.ok) return { ok: false, problem: `with the baseline shown first: ${second.problem}`, judgeAnswers };
  const byOrder = [winnerOf(first.value, 'candidate'), winnerOf(second.value, 'baseline')] as const;
  const consistent = byOrder[0] === byOrder[1];
  return { ok: true, outcome: { winner: consistent ? byOrder[0] : 'tie', byOrder, consistent, judgeAnswers } };
}

function winnerOf(choice: PairwiseChoice, shownFirst: 'candidate' | 'baseline'): PairwiseWinner {
  if (choice === 'tie') return 'tie';
  const shownSecond = shownFirst === 'candidate' ? 'baseline' : 'candidate';
  return choice === 'A' ? shownFirst : shownSecond;
}

/** The candidate's score for one comparison: 1 for a win, 1/2 for a tie, 0 for a loss. */
export function pairwiseScore(winner: PairwiseWinner): number {
  return winner === 'candidate' ? 1 : winner === 'tie' ? 0.5 : 0;
}
