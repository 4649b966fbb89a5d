import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketedBatches, leftPaddedBatch, packedBatches } from '../../../src/train/data/batching.js';
import { splitTrainValidation } from '../../../src/train/data/split.js';
import type { TokenizedExample } from '../../../src/train/data/tokenize.js';

const PAD = 3;
const EOS = 2;

/** Example i has i % 9 + 2 tokens, ids 100 + i, the first labelled -100 like a one-token prompt, ending in EOS. */
function examples(count: number): TokenizedExample[] {
  return Array.from({ length: count }, (_, i) => {
    const length = (i % 9) + 2;
    const ids = [...Array.from({ length: length - 1 }, () => 100 + i), EOS];
    return { ids, labels: [-100, ...ids.slice(1)] };
  });
}

/** The rows of a batch with the padding stripped, by its mask. */
function unpadded(batch: { ids: Int32Array; mask: Uint8Array; batch: number }): number[][] {
  const seq = batch.ids.length / batch.batch;
  return Array.from({ length: batch.batch }, (_, row) =>
    Array.from(batch.ids.subarray(row * seq, (row + 1) * seq)).filter((_, t) => batch.mask[row * seq + t] === 1),
  );
}

test('left padding: pads first with mask 0 and label -100', () => {
  const batch = leftPaddedBatch([{ ids: [5, 6, 7], labels: [-100, 6, 7] }, { ids: [8], labels: [8] }], PAD);
  assert.equal(batch.batch, 2);
  assert.deepEqual(Array.from(batch.ids), [5, 6, 7, PAD, PAD, 8]);
  assert.deepEqual(Array.from(batch.mask), [1, 1, 1, 0, 0, 1]);
  assert.deepEqual(Array.from(batch.labels), [-100, 6, 7, -100, -100, 8]);
});

test('bucketed batches hold every example once, each in a batch of similar lengths', () => {
  const data = examples(100);
  const batches = bucketedBatches(data, { batchSize: 8, padTokenId: PAD, seed: 1, chunkBatches: 4 });
  // Twelve full batches and one of the four left over.
  assert.deepEqual(batches.map((b) => b.batch).sort((a, b) => a - b), [4, ...Array(12).fill(8)]);
  const seen = batches.flatMap(unpadded).map((row) => row[0] - 100).sort((a, b) => a - b);
  assert.deepEqual(seen, data.map((_, i) => i));
  // Sorting within chunks of 32 examples keeps padding far below that of random batches.
  const padded = batches.reduce((sum, b) => sum + b.mask.length - b.mask.reduce((n, m) => n + m, 0), 0);
  assert.ok(padded < 100, `${padded} pad tokens`);
});

test('bucketing is deterministic given the seed, and the seed changes the order', () => {
  const data = examples(50);
  const order = (seed: number) => bucketedBatches(data, { batchSize: 4, padTokenId: PAD, seed }).map((b) => Array.from(b.ids));
  assert.deepEqual(order(7), order(7));
  assert.notDeepEqual(order(7), order(8));
});

test('packing makes rows of exactly maxLength whose labels follow the examples, and loses no token', () => {
  const data = examples(30);
  const maxLength = 16;
  const batches = packedBatches(data, { maxLength, batchSize: 4, eosTokenId: EOS, padTokenId: PAD, seed: 3 });
  for (const batch of batches) assert.equal(batch.ids.length, batch.batch * maxLength);
  const totalTokens = data.reduce((sum, example) => sum + example.ids.length, 0);
  assert.equal(batches.reduce((sum, b) => sum + b.batch, 0), Math.ceil(totalTokens / maxLength));
  // Joined up again without padding, the rows are the examples end to end, each with its own labels.
  const streamIds: number[] = [];
  const streamLabels: number[] = [];
  for (const batch of batches) {
    batch.mask.forEach((real, t) => {
      if (real === 0) return assert.equal(batch.labels[t], -100);
      streamIds.push(batch.ids[t]);
      streamLabels.push(batch.labels[t]);
    });
  }
  const packed: TokenizedExample[] = [];
  for (let start = 0; start < streamIds.length; ) {
    const end = streamIds.indexOf(EOS, start) + 1;
    packed.push({ ids: streamIds.slice(start, end), labels: streamLabels.slice(start, end) });
    start = end;
  }
  const byFirstId = (a: TokenizedExample, b: TokenizedExample) => a.ids[0] - b.ids[0];
  assert.deepEqual(packed.sort(byFirstId), [...data].sort(byFirstId));
});

test('packing separates examples that do not end in EOS with an unlabelled EOS', () => {
  const batches = packedBatches(
    [
      { ids: [10, 11], labels: [-100, 11] },
      { ids: [20, 21], labels: [-100, 21] },
    ],
    { maxLength: 6, batchSize: 1, eosTokenId: EOS, padTokenId: PAD, seed: 0 },
  );
  assert.equal(batches.length, 1);
  const ids = Array.from(batches[0].ids);
  assert.deepEqual([...ids].sort((a, b) => a - b), [EOS, EOS, 10, 11, 20, 21]);
  assert.deepEqual(Array.from(batches[0].labels).filter((label, t) => ids[t] === EOS), [-100, -100]);
});

test('the train/validation split is deterministic, disjoint and complete', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const split = splitTrainValidation(items, 0.2, 5);
  assert.deepEqual(split, splitTrainValidation(items, 0.2, 5));
  assert.notDeepEqual(split.validation, splitTrainValidation(items, 0.2, 6).validation);
  assert.equal(split.validation.length, 10);
  assert.deepEqual([...split.train, ...split.validation].sort((a, b) => a - b), items);
  assert.deepEqual(split.train, [...split.train].sort((a, b) => a - b));
  assert.equal(splitTrainValidation([1, 2, 3], 0.1, 0).validation.length, 1);
  assert.throws(() => splitTrainValidation(items, 1, 0), RangeError);
});
