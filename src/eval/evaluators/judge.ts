/**
 * A judge reads a grading prompt and answers in text. Model-graded evaluators (llm-rubric, pairwise
 * comparison, judge-graded trajectories) only ever see this interface, so a local tuneloop model, an
 * OpenAI-compatible server, or a scripted test double can grade interchangeably.
 */
export interface Judge {
  /** A short description for reports, e.g. `http://localhost:8000/v1/chat/completions (gpt-4o-mini)`. */
  readonly name: string;
  complete(prompt: string, options?: CompletionOptions): Promise<string>;
}

/**
 * The same interface serves the model under test, which continues a suite's rendered prompts: anything
 * that completes text can be graded, or grade.
 */
export type TextCompleter = Judge;

export interface CompletionOptions {
  /** Longest answer, in tokens (default 256). */
  readonly maxTokens?: number;
  /** 0 (the default) asks for the most likely answer, so grading is repeatable. */
  readonly temperature?: number;
  /** Seed for sampled answers, where the judge supports one. */
  readonly seed?: number;
  /** End the answer before the first of these strings; the answer does not include it. */
  readonly stop?: readonly string[];
}

export const DEFAULT_JUDGE_MAX_TOKENS = 256;
