/**
 * sacreBLEU-style signatures: `name:value` fields joined by `|` that say how a score was computed
 * (e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:tuneloop-1`). The fields are sacreBLEU's
 * own; only `version` names this implementation instead of a sacreBLEU release.
 */

/** Bump when a metric's behaviour changes, so old and new scores are told apart by their signatures. */
export const SIGNATURE_VERSION = 'tuneloop-1';

export type SignatureFields = readonly (readonly [string, string | number | boolean])[];

/** Fields in the given order, `version` last; booleans read `yes` / `no`, as sacreBLEU writes them. */
export function formatSignature(fields: SignatureFields): string {
  const parts = fields.map(([name, value]) => `${name}:${typeof value === 'boolean' ? (value ? 'yes' : 'no') : value}`);
  return [...parts, `version:${SIGNATURE_VERSION}`].join('|');
}

/** sacreBLEU's `nrefs` field: the number of references per segment, or `var` when it varies. */
export function referenceCountField(counts: readonly number[]): number | 'var' {
  const distinct = new Set(counts);
  return distinct.size === 1 ? counts[0] : 'var';
}
