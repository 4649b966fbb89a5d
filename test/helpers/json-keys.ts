/**
 * Every object key in a parsed JSON value that is a camelCase identifier (a lower-case letter followed
 * by an upper-case one), as a path like `$.runs[0].fooBar`, for tests that hold the files tuneloop
 * writes and its --json output to snake_case keys. Keys that are not identifiers are data, not field
 * names (a model folder's path in the hash memo, lm-eval's "acc,none"), and are not reported. `allowed`
 * names identifiers that belong to another tool (rouge-score's rougeL and rougeLsum): they are not
 * reported either, and what lies under them is still checked.
 */
export function camelCaseKeys(value: unknown, allowed: readonly string[] = [], path = '$'): string[] {
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return value.flatMap((item, i) => camelCaseKeys(item, allowed, `${path}[${i}]`));
  return Object.entries(value).flatMap(([key, child]) => {
    const here = `${path}.${key}`;
    const own = /^[A-Za-z_]\w*$/.test(key) && /[a-z][A-Z]/.test(key) && !allowed.includes(key) ? [here] : [];
    return [...own, ...camelCaseKeys(child, allowed, here)];
  });
}

/** Parses JSON Lines (one value a line, blank lines skipped). */
export function parseJsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}
