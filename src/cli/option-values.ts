import { InvalidInputError } from '../errors.js';

/**
 * Values of command-line options, checked: each returns undefined when the option was not given and
 * fails with an InvalidInputError naming the option otherwise.
 */

/** An integer of at least `min`. */
export function integerOption(value: string | undefined, option: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidInputError(option, `must be an integer of at least ${min}, got "${value}"`);
  return n;
}

/** A finite number. */
export function numberOption(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidInputError(option, `must be a number, got "${value}"`);
  return n;
}

/** A comma-separated list; undefined when it names nothing. */
export function listOption(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length > 0 ? items : undefined;
}
