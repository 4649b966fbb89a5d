/**
 * Every object key in a parsed JSON value that is camelCase (a lower-case letter followed by an
 * upper-case one), as a path like `$.runs[0].fooBar`, for tests that hold the files tuneloop writes
 * and its --json output to snake_case keys. `allowed` names keys that are another tool's identifiers
 * rather than tuneloop's field names (rouge-score's rougeL and rougeLsum): they are not reported, and
 * what lies under them is still checked.
 */
export function camelCaseKeys(value: unknown, allowed: readonly string[] = [], path = '$'): string[] {
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return value.flatMap((item, i) => camelCaseKeys(item, allowed, `${path}[${i}]`));
  return Object.entries(value).flatMap(([key, child]) => {
    const here = `${path}.${key}`;
    const own = /[a-z][A-Z]/.test(key) && !allowed.includes(key) ? [here] : [];
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
