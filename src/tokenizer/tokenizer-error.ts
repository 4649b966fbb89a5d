import { TuneloopError } from '../errors.js';

/**
 * A tokenizer file that cannot be used: missing, not JSON, or not shaped like a Hugging Face BPE tokenizer.
 * It names the file, and the offending field when there is one, so that the user can fix the file by hand.
 */
export class TokenizerFileError extends TuneloopError {
  readonly name = 'TokenizerFileError';
  /** Path of the file at fault, as the loader was given it. */
  readonly file: string;
  /** Path of the offending field inside the file (`model.vocab`, `added_tokens[2].id`), if one is at fault. */
  readonly field?: string;

  constructor(file: string, problem: string, options: { field?: string; cause?: unknown } = {}) {
    const subject = options.field === undefined ? `${file}:` : `${file}: field "${options.field}"`;
    super(`${subject} ${problem}`, { cause: options.cause });
    this.file = file;
    this.field = options.field;
  }

  static isInstance(value: unknown): value is TokenizerFileError {
    return value instanceof Error && value.name === 'TokenizerFileError';
  }
}
