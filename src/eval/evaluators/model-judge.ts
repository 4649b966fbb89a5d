import { InvalidInputError } from '../../errors.js';
import { generate } from '../../inference/generate.js';
import type { CausalLM } from '../../models/causal-lm.js';
import type { BloomTokenizer } from '../../tokenizer/tokenizer.js';
import { type CompletionOptions, DEFAULT_JUDGE_MAX_TOKENS, type Judge } from './judge.js';

/**
 * A judge that is a model tuneloop runs: a BLOOM checkpoint, with an adapter applied by the caller
 * (`applyAdapter`) when one is wanted. The prompt is encoded, continued with `generate`, and the new
 * tokens decoded; temperature 0 decodes greedily, anything above samples with the given seed. It also
 * serves as the model under test in a suite, since both only complete text.
 */
export class ModelJudge implements Judge {
  constructor(
    private readonly model: CausalLM,
    private readonly tokenizer: BloomTokenizer,
    readonly name: string,
  ) {}

  async complete(prompt: string, options: CompletionOptions = {}): Promise<string> {
    const ids = this.tokenizer.encode(prompt);
    if (ids.length === 0) throw new InvalidInputError('prompt', 'tokenizes to no tokens');
    const vocab = this.model.config.vocabSize;
    const outside = ids.find((id) => id >= vocab);
    if (outside !== undefined) {
      throw new InvalidInputError('prompt', `token id ${outside} is outside the model's vocabulary [0, ${vocab}): the tokenizer does not belong to this model`);
    }
    const temperature = options.temperature ?? 0;
    const stop = options.stop?.filter((s) => s.length > 0) ?? [];
    const decode = (tokens: readonly number[]) => this.tokenizer.decode(tokens, { skipSpecialTokens: true });
    const result = generate(this.model, [ids], {
      maxNewTokens: options.maxTokens ?? DEFAULT_JUDGE_MAX_TOKENS,
      strategy: temperature > 0 ? { kind: 'sample', temperature, topK: 0, topP: 1, seed: options.seed ?? 0 } : { kind: 'greedy' },
      stop: stop.length > 0 ? { sequences: stop, decode } : undefined,
    });
    const text = decode(result.rows[0].newTokens);
    // generate() stops at the token that completes a stop string; like OpenAI servers, leave the string out.
    const cut = Math.min(...stop.map((s) => text.indexOf(s)).filter((i) => i >= 0));
    return Number.isFinite(cut) ? text.slice(0, cut) : text;
  }
}
