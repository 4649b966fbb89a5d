import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alibiSlopes } from '../../../src/models/bloom/alibi.js';
import { KvCache } from '../../../src/models/bloom/kv-cache.js';
import { BloomModel } from '../../../src/models/bloom/model.js';
import { generate } from '../../../src/inference/generate.js';
import { backendCases } from '../../helpers/backends.js';
import { loadReference, maxAbsDiff } from '../../helpers/reference.js';

const FP32_TOLERANCE = 1e-4;
/**
 * bf16 weights and bf16 matmul inputs (float32 accumulation) against Hugging Face's float32 outputs.
 * bf16 keeps 8 significant bits (relative error up to 2^-9 per value), so logits of magnitude ~5 move
 * by a few hundredths; greedy tokens may differ where the top two logits are this close.
 */
const BF16_LOGIT_TOLERANCE = 0.15;

const cases = await backendCases();

for (const which of ['a', 'b'] as const) {
  const ref = loadReference(which);
  const ids = ref.ints('input_ids');
  const mask = Uint8Array.from(ref.ints('attention_mask'));
  const [batch, seq] = ref.shape('input_ids');

  test(`fixture ${which}: ALiBi slopes equal Hugging Face's`, () => {
    const expected = ref.f32('alibi_slopes');
    assert.ok(maxAbsDiff(alibiSlopes(expected.length), expected) === 0);
  });

  for (const { name, backend, skipReason } of cases) {
    describe(`fixture ${which}, ${name} backend, fp32`, { skip: skipReason }, () => {
      const model = () => BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });

      test('logits of the batch, the left-padded row included, and hidden states', () => {
        const m = model();
        const { hidden, hiddenStates } = m.forward({ ids, batch, mask, collectHiddenStates: true });
        const logits = m.logits(hidden, batch * seq);
        assert.ok(maxAbsDiff(logits, ref.f32('logits')) < FP32_TOLERANCE, `logits differ by ${maxAbsDiff(logits, ref.f32('logits'))}`);
        const expectedHidden = ref.f32('hidden_states');
        const perState = batch * seq * m.config.hiddenSize;
        assert.equal(hiddenStates!.length, m.config.numLayers + 1);
        hiddenStates!.forEach((state, i) => {
          const diff = maxAbsDiff(state, expectedHidden.subarray(i * perState, (i + 1) * perState));
          assert.ok(diff < FP32_TOLERANCE, `hidden state ${i} differs by ${diff}`);
        });
      });

      test('the padded row equals the same tokens run alone', () => {
        const m = model();
        const npad = ref.values.npad_row2 as number;
        const rowIds = ids.subarray(2 * seq + npad, 3 * seq);
        const { hidden } = m.forward({ ids: rowIds, batch: 1, mask: new Uint8Array(rowIds.length).fill(1) });
        const diff = maxAbsDiff(m.logits(hidden, rowIds.length), ref.f32('logits_row2_unpadded'));
        assert.ok(diff < FP32_TOLERANCE, `differs by ${diff}`);
      });

      test('layer-0 KV cache in BLOOM layout', () => {
        const m = model();
        const cache = new KvCache(m.config, batch, seq);
        m.forward({ ids, batch, mask, cache });
        const { numHeads: nh, headDim: hd } = m.config;
        // Hugging Face stores keys as [batch·heads, headDim, seq] and values as [batch·heads, seq, headDim].
        const keys = new Float32Array(batch * nh * hd * seq);
        const values = new Float32Array(batch * nh * seq * hd);
        for (let bh = 0; bh < batch * nh; bh++) {
          for (let t = 0; t < seq; t++) {
            for (let d = 0; d < hd; d++) {
              keys[(bh * hd + d) * seq + t] = cache.keys[0][(bh * seq + t) * hd + d];
              values[(bh * seq + t) * hd + d] = cache.values[0][(bh * seq + t) * hd + d];
            }
          }
        }
        assert.ok(maxAbsDiff(keys, ref.f32('present_key_layer0')) < FP32_TOLERANCE);
        assert.ok(maxAbsDiff(values, ref.f32('present_value_layer0')) < FP32_TOLERANCE);
      });

      test('greedy generation of one prompt: same tokens, step logits within 1e-4', () => {
        const m = model();
        const result = generate(m, [Array.from(ids.subarray(0, seq))], { maxNewTokens: 10, strategy: { kind: 'greedy' }, keepStepLogits: true });
        assert.deepEqual(result.rows[0].newTokens, Array.from(ref.ints('gen1_new_tokens')));
        const expected = ref.f32('gen1_step_logits');
        const vocab = m.config.vocabSize;
        result.stepLogits!.forEach((logits, step) => {
          const diff = maxAbsDiff(logits, expected.subarray(step * vocab, (step + 1) * vocab));
          assert.ok(diff < FP32_TOLERANCE, `step ${step} logits differ by ${diff}`);
        });
      });

      test('greedy generation of the padded batch: same tokens, step logits within 1e-4', () => {
        const m = model();
        const prompts = [0, 1, 2].map((b) => Array.from(ids.subarray(b * seq, (b + 1) * seq)).filter((_, t) => mask[b * seq + t] === 1));
        const result = generate(m, prompts, { maxNewTokens: 10, strategy: { kind: 'greedy' }, keepStepLogits: true });
        const expectedTokens = ref.ints('genbatch_new_tokens');
        result.rows.forEach((row, b) => assert.deepEqual(row.newTokens, Array.from(expectedTokens.subarray(b * 10, (b + 1) * 10)), `row ${b}`));
        const expected = ref.f32('genbatch_step_logits');
        const stepSize = batch * m.config.vocabSize;
        result.stepLogits!.forEach((logits, step) => {
          const diff = maxAbsDiff(logits, expected.subarray(step * stepSize, (step + 1) * stepSize));
          assert.ok(diff < FP32_TOLERANCE, `step ${step} logits differ by ${diff}`);
        });
      });
    });

    describe(`fixture ${which}, ${name} backend, bf16`, { skip: skipReason }, () => {
      test(`logits within ${BF16_LOGIT_TOLERANCE} of Hugging Face's float32 logits`, () => {
        const m = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'bf16' });
        const { hidden } = m.forward({ ids, batch, mask });
        const logits = m.logits(hidden, batch * seq);
        const diff = maxAbsDiff(logits, ref.f32('logits'));
        assert.ok(diff < BF16_LOGIT_TOLERANCE, `bf16 logits differ by ${diff}`);
        assert.ok(diff > 0, 'bf16 logits are bit-identical to float32: the bf16 path was not taken');
      });
    });
  }
}
