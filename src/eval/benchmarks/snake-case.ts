/**
 * Field names in snake_case for the JSON files and --json output tuneloop writes. In-memory result
 * objects keep TypeScript's camelCase field names; this renames every field that is a camelCase
 * identifier (`tokensPerSecond` -> `tokens_per_second`, `p50Ms` -> `p50_ms`) at the point of writing.
 * The keys of the maps named in `dataMaps` are data (task names, metric names, perturbation keys,
 * assertion types, user variables) and are kept as they are; the values inside are renamed as usual.
 */
export function snakeCaseFields(value: unknown, dataMaps: ReadonlySet<string> = new Set()): unknown {
  if (Array.isArray(value)) return value.map((item) => snakeCaseFields(item, dataMaps));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => {
      if (dataMaps.has(key) && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
        return [snakeCase(key), Object.fromEntries(Object.entries(inner).map(([dataKey, v]) => [dataKey, snakeCaseFields(v, dataMaps)]))];
      }
      return [snakeCase(key), snakeCaseFields(inner, dataMaps)];
    }),
  );
}

/** A camelCase identifier in snake_case; any other key (already snake_case, `typos:0.1`, ...) unchanged. */
export function snakeCase(key: string): string {
  return /^[a-z][a-zA-Z0-9]*$/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : key;
}
