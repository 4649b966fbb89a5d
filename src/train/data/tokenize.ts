import { DatasetError } from '../../errors.js';
import type { BloomTokenizer } from '../../tokenizer/tokenizer.js';
import { IGNORE_INDEX } from '../bloom-backward.js';
import type { RecordLocation } from './records.js';

/** One tokenized training example: labels are Hugging Face style, the token to predict at each position or -100. */
export interface TokenizedExample {
  readonly ids: readonly number[];
  readonly labels: readonly number[];
}

export interface TruncationWarning {
  readonly location: RecordLocation;
  readonly originalLength: number;
  readonly maxLength: number;
  /** Tokens cut from the start of the prompt, and from the end of the completion (its EOS included). */
  readonly promptTokensCut: number;
  readonly completionTokensCut: number;
}

export interface TokenizeOptions {
  /** Where the example came from, for warnings and errors. */
  location: RecordLocation;
  maxLength: number;
  /** Learn only the completion: prompt tokens get label -100 (default true). */
  completionOnly?: boolean;
  /** Append the tokenizer's EOS token to the completion, so the model learns to stop (default true). */
  appendEos?: boolean;
  /** What to do with an example longer than maxLength (default 'truncate'). */
  overLength?: 'truncate' | 'refuse';
  /** Told about each truncated example. */
  onTruncate?: (warning: TruncationWarning) => void;
}

/**
 * Tokenizes prompt and completion separately and concatenates them, so the boundary between prompt and
 * completion labels is exactly where the texts meet (tokenizing the joined text could merge a token across
 * it). No special tokens are added besides the EOS: BLOOM uses no BOS.
 *
 * Truncation keeps the completion, which is what is learned, and cuts the prompt from the left, since the
 * text nearest the completion matters most; only if the completion alone is too long is its end cut.
 * Examples that end up with nothing to learn are a DatasetError, as are over-long ones under 'refuse'.
 */
export function tokenizeExample(
  tokenizer: BloomTokenizer,
  prompt: string,
  completion: string,
  options: TokenizeOptions,
): TokenizedExample {
  const { location, maxLength } = options;
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new RangeError(`maxLength must be an integer of at least 2, got ${maxLength}`);
  }
  const fail = (detail: string): never => {
    throw new DatasetError(location.file, detail, { line: location.line });
  };
  let promptIds = tokenizer.encode(prompt, { addSpecialTokens: false });
  let completionIds = tokenizer.encode(completion, { addSpecialTokens: false });
  if (options.appendEos ?? true) {
    if (tokenizer.eosTokenId === undefined) throw new RangeError('appendEos is set but the tokenizer has no EOS token');
    completionIds.push(tokenizer.eosTokenId);
  }
  const length = promptIds.length + completionIds.length;
  if (length > maxLength) {
    if (options.overLength === 'refuse') {
      fail(`is ${length} tokens long, more than maxLength ${maxLength}`);
    }
    // Keep at least the prompt's last token where there is one: the label at position 0 is never learned,
    // so a completion that started the sequence would lose its first token.
    const promptFloor = promptIds.length > 0 ? 1 : 0;
    const completionKept = Math.min(completionIds.length, maxLength - promptFloor);
    const promptKept = maxLength - completionKept;
    const warning: TruncationWarning = {
      location,
      originalLength: length,
      maxLength,
      promptTokensCut: promptIds.length - promptKept,
      completionTokensCut: completionIds.length - completionKept,
    };
    promptIds = promptIds.slice(promptIds.length - promptKept);
    completionIds = completionIds.slice(0, completionKept);
    options.onTruncate?.(warning);
  }
  const ids = [...promptIds, ...completionIds];
  const labels = options.completionOnly ?? true ? [...promptIds.map(() => IGNORE_INDEX), ...completionIds] : [...ids];
  // The model predicts labels[t] from the tokens before t, so the label at position 0 is never learned.
  if (labels.slice(1).every((label) => label === IGNORE_INDEX)) {
    fail('has no token to learn: every label after the first position is -100');
  }
  return { ids, labels };
}
