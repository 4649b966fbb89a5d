/**
 * Typed errors. Each names what was wrong and where (file, field, tensor, line), so a caller can act on
 * it without matching message strings: `CheckpointError.isInstance(e)` then read `e.file`, `e.tensor`.
 */
export abstract class TuneloopError extends Error {
  abstract override readonly name: string;
}

function isNamed(value: unknown, name: string): boolean {
  return value instanceof Error && value.name === name;
}

/** Where in a file a problem lies: a tensor, or a field of a JSON file. */
export interface FileLocation {
  readonly tensor?: string;
  readonly field?: string;
}

/** An error in a file, its message `FILE (tensor "T"): detail` or `FILE (field "F"): detail`. */
abstract class FileError extends TuneloopError {
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly location: FileLocation = {},
    options?: { cause?: unknown },
  ) {
    const where = location.tensor ? ` (tensor "${location.tensor}")` : location.field ? ` (field "${location.field}")` : '';
    super(`${file}${where}: ${detail}`, options);
  }
  get tensor(): string | undefined {
    return this.location.tensor;
  }
  get field(): string | undefined {
    return this.location.field;
  }
}

/** A model file (safetensors, index, config) is unreadable, corrupt, or disagrees with the config. */
export class CheckpointError extends FileError {
  readonly name = 'CheckpointError';
  static isInstance(value: unknown): value is CheckpointError {
    return isNamed(value, 'CheckpointError');
  }
}

/** A request to the model is invalid: empty prompt, token id outside the vocabulary, bad option. */
export class InvalidInputError extends TuneloopError {
  readonly name = 'InvalidInputError';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
  static isInstance(value: unknown): value is InvalidInputError {
    return isNamed(value, 'InvalidInputError');
  }
}

/** The native addon could not be loaded or failed to run. */
export class BackendUnavailableError extends TuneloopError {
  readonly name = 'BackendUnavailableError';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(detail, options);
  }
  static isInstance(value: unknown): value is BackendUnavailableError {
    return isNamed(value, 'BackendUnavailableError');
  }
}

/** A PEFT adapter directory is unreadable, malformed, or made for another base model. */
export class AdapterError extends FileError {
  readonly name = 'AdapterError';
  static isInstance(value: unknown): value is AdapterError {
    return isNamed(value, 'AdapterError');
  }
}

/**
 * A training data file or one of its records is unusable: unreadable or malformed file, a missing,
 * mistyped or empty field, an unknown chat role, a chat template that fails. `line` is the record's
 * line (JSONL), line (CSV) or 1-based row (Parquet); `field` names the offending field, e.g. `messages[2].role`.
 */
export class DatasetError extends TuneloopError {
  readonly name = 'DatasetError';
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly location: { readonly line?: number; readonly field?: string } = {},
    options?: { cause?: unknown },
  ) {
    const where = location.line === undefined ? file : `${file}:${location.line}`;
    const what = location.field === undefined ? detail : `field "${location.field}" ${detail}`;
    super(`${where}: ${what}`, options);
  }
  get line(): number | undefined {
    return this.location.line;
  }
  get field(): string | undefined {
    return this.location.field;
  }
  static isInstance(value: unknown): value is DatasetError {
    return isNamed(value, 'DatasetError');
  }
}

/** Why a judge endpoint's answer was unusable: an HTTP error status, a body that is not a chat completion, no answer in time, or no connection. */
export type JudgeEndpointFailure = 'http-status' | 'malformed-body' | 'timeout' | 'network';

/**
 * An OpenAI-compatible judge endpoint failed. `endpoint` is the URL that was called, `failure` says how it
 * failed, and `status` is the HTTP status where the server sent one.
 */
export class JudgeEndpointError extends TuneloopError {
  readonly name = 'JudgeEndpointError';
  constructor(
    readonly endpoint: string,
    readonly failure: JudgeEndpointFailure,
    readonly detail: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`judge endpoint ${endpoint}: ${detail}`, options);
  }
  static isInstance(value: unknown): value is JudgeEndpointError {
    return isNamed(value, 'JudgeEndpointError');
  }
}
