import { SeededRandom } from '../../inference/sampling.js';
import { IGNORE_INDEX, type TrainingBatch } from '../bloom-backward.js';
import { shuffledIndices } from './shuffle.js';
import type { TokenizedExample } from './tokenize.js';

export interface BucketingOptions {
  batchSize: number;
  padTokenId: number;
  /** Fixes the order: the same seed and examples always give the same batches. */
  seed: number;
  /**
   * How many batches' worth of examples are sorted by length together (default 16). Larger chunks waste
   * less on padding; smaller ones keep the order more random.
   */
  chunkBatches?: number;
}

/**
 * Batches of examples of similar length, so little compute goes to padding: the examples are shuffled,
 * cut into chunks, sorted by length within each chunk and grouped into batches, and then the batches are
 * shuffled so that lengths do not rise steadily through an epoch. The last batch may be smaller.
 */
export function bucketedBatches(examples: readonly TokenizedExample[], options: BucketingOptions): TrainingBatch[] {
  const { batchSize } = options;
  checkPositiveInteger('batchSize', batchSize);
  const chunkSize = batchSize * (options.chunkBatches ?? 16);
  checkPositiveInteger('chunkBatches', chunkSize / batchSize);
  const random = new SeededRandom(options.seed);
  const order = shuffledIndices(examples.length, random);
  const groups: number[][] = [];
  for (let start = 0; start < order.length; start += chunkSize) {
    // A stable sort: examples of equal length stay in their shuffled order.
    const chunk = order.slice(start, start + chunkSize).sort((a, b) => examples[a].ids.length - examples[b].ids.length);
    for (let first = 0; first < chunk.length; first += batchSize) groups.push(chunk.slice(first, first + batchSize));
  }
  return shuffledIndices(groups.length, random).map((g) =>
    leftPaddedBatch(groups[g].map((index) => examples[index]), options.padTokenId),
  );
}

/**
 * One batch padded on the left to its longest example (or to `minLength`), as BLOOM is trained and
 * generates: pad tokens get mask 0 and label -100, so they neither attend nor count in the loss.
 */
export function leftPaddedBatch(examples: readonly TokenizedExample[], padTokenId: number, minLength = 0): TrainingBatch {
  if (examples.length === 0) throw new RangeError('a batch needs at least one example');
  const seq = Math.max(minLength, ...examples.map((example) => example.ids.length));
  const ids = new Int32Array(examples.length * seq).fill(padTokenId);
  const mask = new Uint8Array(examples.length * seq);
  const labels = new Int32Array(examples.length * seq).fill(IGNORE_INDEX);
  examples.forEach((example, row) => {
    const offset = row * seq + seq - example.ids.length;
    ids.set(example.ids, offset);
    labels.set(example.labels, offset);
    mask.fill(1, offset, (row + 1) * seq);
  });
  return { ids, mask, labels, batch: examples.length };
}

export interface PackingOptions {
  /** Every row is exactly this many tokens. */
  maxLength: number;
  batchSize: number;
  eosTokenId: number;
  padTokenId: number;
  /** Fixes the order in which examples are packed. */
  seed: number;
}

/**
 * Packs examples end to end into rows of exactly `maxLength` tokens, as TRL's ConstantLengthDataset does:
 * no padding except at the end of the last row, so short examples waste no compute. Examples are separated
 * by EOS (added, with label -100, after any example that does not already end with it), and an example
 * may run on from one row into the next.
 *
 * Every token of a row has mask 1, so attention crosses example boundaries: a token can see the examples
 * packed before it. Like TRL, this accepts that leak for throughput; use bucketedBatches where examples
 * must stay independent.
 */
export function packedBatches(examples: readonly TokenizedExample[], options: PackingOptions): TrainingBatch[] {
  const { maxLength, batchSize, eosTokenId } = options;
  checkPositiveInteger('maxLength', maxLength);
  checkPositiveInteger('batchSize', batchSize);
  const streamIds: number[] = [];
  const streamLabels: number[] = [];
  for (const index of shuffledIndices(examples.length, new SeededRandom(options.seed))) {
    const { ids, labels } = examples[index];
    streamIds.push(...ids);
    streamLabels.push(...labels);
    if (ids[ids.length - 1] !== eosTokenId) {
      streamIds.push(eosTokenId);
      streamLabels.push(IGNORE_INDEX);
    }
  }
  const rows: TokenizedExample[] = [];
  for (let start = 0; start < streamIds.length; start += maxLength) {
    rows.push({ ids: streamIds.slice(start, start + maxLength), labels: streamLabels.slice(start, start + maxLength) });
  }
  const batches: TrainingBatch[] = [];
  for (let first = 0; first < rows.length; first += batchSize) {
    // Rows are all maxLength long except perhaps the very last, which is padded up to it.
    batches.push(leftPaddedBatch(rows.slice(first, first + batchSize), options.padTokenId, maxLength));
  }
  return batches;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}
