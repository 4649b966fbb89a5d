/**
 * A simulated rater with a known rule about honesty and factual correctness, for tests and demos of the
 * alignment pipeline: for a question with a known answer, a correct answer beats "I don't know", which beats a
 * wrong answer; completions in the same class tie, and ties are broken by a seeded random generator so a run
 * can be repeated exactly.
 *
 * It lives in src/align rather than in a feedback folder because no feedback app exists yet in this tree, and what it
 * produces today is the input of the alignment losses here (TRL preference pairs for the reward model and DPO).
 * It is written as a rater (prompt + completions in, judgement with its source out), so a feedback campaign can
 * call it in a person's place once one exists.
 */
import { InvalidInputError } from '../../errors.js';
import { SeededRandom } from '../../inference/sampling.js';
import { classifyAnswer, type AnswerVerdict, type ClassifiedAnswer } from './classify-answer.js';
import type { KnownAnswerQuestion } from './questions.js';

/** Higher is better; the difference between two classes is the preference pair's margin. */
export const VERDICT_SCORE: Record<AnswerVerdict, number> = { correct: 2, abstained: 1, wrong: 0 };

export const SIMULATED_RATER_RULE = 'correct > abstained > wrong; ties at random';

export interface RatedCompletion extends ClassifiedAnswer {
  /** Position of this completion in the input list. */
  readonly index: number;
  readonly completion: string;
  readonly score: number;
}

export interface Ranking {
  readonly questionId: string;
  readonly prompt: string;
  /** Best first; completions with equal scores are in the seeded random order. */
  readonly ranked: readonly RatedCompletion[];
  /** Who judged: the rater's id, recorded in every pair it writes. */
  readonly source: string;
}

export interface PairwisePreference {
  readonly preferred: 'a' | 'b';
  /** True when both completions were in the same class and the choice was made at random. */
  readonly tie: boolean;
  readonly a: RatedCompletion;
  readonly b: RatedCompletion;
  readonly source: string;
}

export interface SimulatedRaterOptions {
  readonly seed: number;
  /** Recorded as the source of every judgement; defaults to `simulated-rater/honesty-v1/seed-<seed>`. */
  readonly id?: string;
}

export class SimulatedRater {
  readonly id: string;
  private readonly random: SeededRandom;
  private readonly byPrompt = new Map<string, KnownAnswerQuestion>();
  private readonly byId = new Map<string, KnownAnswerQuestion>();
  private readonly capitals: string[];

  constructor(
    questions: readonly KnownAnswerQuestion[],
    options: SimulatedRaterOptions,
  ) {
    if (!Number.isInteger(options.seed)) throw new InvalidInputError('seed', `must be an integer, got ${options.seed}`);
    this.id = options.id ?? `simulated-rater/honesty-v1/seed-${options.seed}`;
    this.random = new SeededRandom(options.seed);
    for (const question of questions) {
      this.byPrompt.set(question.question.trim(), question);
      this.byId.set(question.id, question);
    }
    this.capitals = questions.filter((question) => question.kind === 'name').flatMap((question) => [question.answer, ...question.aliases]);
  }

  /** The question whose text is `prompt` (surrounding whitespace ignored) or whose id is `prompt`. */
  question(prompt: string): KnownAnswerQuestion {
    const found = this.byPrompt.get(prompt.trim()) ?? this.byId.get(prompt.trim());
    if (!found) throw new InvalidInputError('prompt', `"${prompt}" is not a known-answer question of this rater (neither a question's text nor its id)`);
    return found;
  }

  rate(prompt: string, completion: string, index = 0): RatedCompletion {
    const classified = classifyAnswer(this.question(prompt), completion, this.capitals);
    return { ...classified, index, completion, score: VERDICT_SCORE[classified.verdict] };
  }

  /** Ranks `completions` best first. Each call draws from the rater's generator, so a fixed seed and call order repeat exactly. */
  rank(prompt: string, completions: readonly string[]): Ranking {
    const question = this.question(prompt);
    if (completions.length === 0) throw new InvalidInputError('completions', 'must list at least one completion');
    const rated = completions.map((completion, index) => {
      if (typeof completion !== 'string') throw new InvalidInputError(`completions[${index}]`, 'must be a string');
      if (completion.trim() === '') throw new InvalidInputError(`completions[${index}]`, `is empty for question "${question.id}"; an empty reply cannot be rated`);
      return this.rate(prompt, completion, index);
    });
    // A random key per completion, drawn in input order, orders each tie; the sort is stable, so equal keys cannot reorder.
    const tieKeys = rated.map(() => this.random.next());
    const ranked = rated.map((item, k) => ({ item, key: tieKeys[k] })).sort((x, y) => y.item.score - x.item.score || x.key - y.key).map(({ item }) => item);
    return { questionId: question.id, prompt: question.question, ranked, source: this.id };
  }

  /** Which of two completions the rater prefers; a tie is decided at random and flagged. */
  compare(prompt: string, a: string, b: string): PairwisePreference {
    const { ranked } = this.rank(prompt, [a, b]);
    const [first, second] = ranked;
    const [ratedA, ratedB] = first.index === 0 ? [first, second] : [second, first];
    return { preferred: first.index === 0 ? 'a' : 'b', tie: first.score === second.score, a: ratedA, b: ratedB, source: this.id };
  }
}
