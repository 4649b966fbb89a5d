import { InvalidInputError } from '../errors.js';

/** Token rows of different lengths, left-padded into one `[batch, length]` block with its mask. */
export interface PaddedBatch {
  readonly ids: Int32Array;
  readonly mask: Uint8Array;
  readonly batch: number;
  readonly length: number;
}

/**
 * Left padding keeps every row's last token in the last column, which is where generation reads its
 * next-token logits and where each row's KV cache grows.
 */
export function leftPad(rows: readonly (readonly number[])[], padTokenId: number, field = 'prompts'): PaddedBatch {
  if (rows.length === 0) throw new InvalidInputError(field, 'needs at least one row');
  rows.forEach((row, i) => {
    if (row.length === 0) throw new InvalidInputError(`${field}[${i}]`, 'is empty: give at least one token');
  });
  const length = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * length).fill(padTokenId);
  const mask = new Uint8Array(rows.length * length);
  rows.forEach((row, b) => {
    const start = b * length + length - row.length;
    ids.set(row, start);
    mask.fill(1, start, (b + 1) * length);
  });
  return { ids, mask, batch: rows.length, length };
}

/** Copies `count` rows of `width` values starting at the given positions (row-major). */
export function gatherRows(source: Float32Array, width: number, positions: ArrayLike<number>): Float32Array {
  const out = new Float32Array(positions.length * width);
  for (let i = 0; i < positions.length; i++) out.set(source.subarray(positions[i] * width, (positions[i] + 1) * width), i * width);
  return out;
}
