import type { CompletionOptions, Judge } from '../../src/eval/evaluators/judge.js';

/** A test double: answers each prompt with `answer(prompt)` and records what it was asked. */
export class ScriptedJudge implements Judge {
  readonly name = 'scripted judge';
  readonly prompts: string[] = [];
  readonly options: (CompletionOptions | undefined)[] = [];

  constructor(private readonly answer: (prompt: string) => string) {}

  async complete(prompt: string, options?: CompletionOptions): Promise<string> {
    this.prompts.push(prompt);
    this.options.push(options);
    return this.answer(prompt);
  }
}

/** The text between <<< and >>> of the response shown as Response A in a pairwise prompt. */
export function responseA(prompt: string): string {
  return prompt.split('[Response A]\n<<<\n')[1].split('\n>>>')[0];
}
