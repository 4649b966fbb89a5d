import { InvalidInputError } from '../errors.js';

type Mapping = Record<string, unknown>;

/** Bounds a number field must respect; `integer` rejects fractions. */
export interface NumberCheck {
  readonly min?: number;
  readonly max?: number;
  readonly exclusiveMin?: boolean;
  readonly exclusiveMax?: boolean;
  readonly integer?: boolean;
}

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A checked view of one mapping of a parsed YAML (or JSON) file. Every read checks the field's type and
 * bounds, and every failure is an InvalidInputError whose message names the file and the field's dotted
 * path, e.g. `suite.yaml: tests[2].assert[0].threshold: must be >= 0, got -1`. A field set to `null` counts
 * as absent, as YAML writes an empty value.
 */
export class FieldReader {
  private constructor(
    readonly file: string,
    private readonly mapping: Mapping,
    /** This mapping's own path in the file: '' at the top, else e.g. `tests[2].assert[0]`. */
    readonly path: string,
  ) {}

  /** The file's top-level mapping; `detail` is the error when the document is something else. */
  static ofDocument(file: string, document: unknown, detail = 'must be a YAML mapping'): FieldReader {
    if (!isMapping(document)) throw new InvalidInputError(file, detail);
    return new FieldReader(file, document, '');
  }

  /** The dotted path of `field` of this mapping (`field` may be a list index such as `tasks[0]`). */
  where(field: string): string {
    return this.path === '' ? field : `${this.path}.${field}`;
  }

  fail(field: string, detail: string): never {
    throw new InvalidInputError(`${this.file}: ${this.where(field)}`, detail);
  }

  /** The field's value as parsed, unchecked. */
  raw(field: string): unknown {
    return this.mapping[field];
  }

  has(field: string): boolean {
    return this.mapping[field] !== undefined && this.mapping[field] !== null;
  }

  /** The field names written in this mapping, in file order. */
  keys(): string[] {
    return Object.keys(this.mapping);
  }

  rejectUnknown(known: readonly string[]): void {
    for (const key of this.keys()) {
      if (!known.includes(key)) this.fail(key, `is not a known field (known here: ${known.join(', ')})`);
    }
  }

  /** A section whose fields all have defaults: absent reads as an empty mapping. */
  child(field: string): FieldReader {
    if (!this.has(field)) return new FieldReader(this.file, {}, this.where(field));
    return this.requiredChild(field);
  }

  requiredChild(field: string): FieldReader {
    const value = this.raw(field);
    if (!this.has(field)) this.fail(field, 'is required: a mapping');
    if (!isMapping(value)) this.fail(field, 'must be a mapping');
    return new FieldReader(this.file, value, this.where(field));
  }

  /** A required, non-empty list of mappings. */
  list(field: string): FieldReader[] {
    const value = this.raw(field);
    if (!this.has(field)) this.fail(field, 'is required: a non-empty list');
    if (!Array.isArray(value) || value.length === 0) this.fail(field, 'must be a non-empty list');
    return value.map((item: unknown, i) => {
      const at = `${field}[${i}]`;
      if (!isMapping(item)) this.fail(at, 'must be a mapping');
      return new FieldReader(this.file, item, this.where(at));
    });
  }

  /** Any string, the empty one included; required when there is no fallback. */
  string(field: string, fallback?: string): string {
    const value = this.raw(field) ?? fallback;
    if (value === undefined) this.fail(field, 'is required: a string');
    if (typeof value !== 'string') this.fail(field, `must be a string, got ${JSON.stringify(value)}`);
    return value;
  }

  nonEmptyString(field: string, fallback?: string): string {
    const value = this.raw(field) ?? fallback;
    if (value === undefined) this.fail(field, 'is required: a non-empty string');
    if (typeof value !== 'string' || value === '') this.fail(field, `must be a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  }

  optionalString(field: string): string | null {
    return this.has(field) ? this.string(field) : null;
  }

  /** One of `options`; required when there is no fallback. */
  choice<T extends string>(field: string, options: readonly T[], fallback?: T): T {
    const value = this.raw(field) ?? fallback;
    if (value === undefined) this.fail(field, `is required: one of ${options.join(', ')}`);
    if (!options.includes(value as T)) this.fail(field, `must be one of ${options.join(', ')}, got ${JSON.stringify(value)}`);
    return value as T;
  }

  number(field: string, fallback: number, check: NumberCheck = {}): number {
    const value = this.raw(field) ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, `must be a number, got ${JSON.stringify(value)}`);
    if (check.integer && !Number.isInteger(value)) this.fail(field, `must be an integer, got ${value}`);
    if (check.min !== undefined && (check.exclusiveMin ? value <= check.min : value < check.min)) this.fail(field, `must be ${check.exclusiveMin ? '>' : '>='} ${check.min}, got ${value}`);
    if (check.max !== undefined && (check.exclusiveMax ? value >= check.max : value > check.max)) this.fail(field, `must be ${check.exclusiveMax ? '<' : '<='} ${check.max}, got ${value}`);
    return value;
  }

  optionalNumber(field: string, check: NumberCheck = {}): number | null {
    return this.has(field) ? this.number(field, 0, check) : null;
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.raw(field) ?? fallback;
    if (typeof value !== 'boolean') this.fail(field, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  /** A non-empty list of non-empty strings; required when there is no fallback. */
  stringList(field: string, fallback?: readonly string[]): string[] {
    const value = this.raw(field) ?? fallback;
    if (value === undefined) this.fail(field, 'is required: a non-empty list of non-empty strings');
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v !== '')) this.fail(field, 'must be a non-empty list of non-empty strings');
    return [...(value as string[])];
  }

  optionalStringList(field: string): string[] | null {
    return this.has(field) ? this.stringList(field) : null;
  }

  /** A list of any strings, which may be empty; absent reads as the empty list. */
  possiblyEmptyStringList(field: string): string[] {
    const value = this.raw(field) ?? [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) this.fail(field, 'must be a list of strings');
    return [...(value as string[])];
  }
}
