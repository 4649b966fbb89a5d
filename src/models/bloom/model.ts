import { join } from 'node:path';
import type { Backend } from '../../engine/backend.js';
import { InvalidInputError } from '../../errors.js';
import { alibiSlopes } from './alibi.js';
import { CheckpointTensors } from './checkpoint.js';
import { type BloomConfig, readBloomConfig } from './config.js';
import { KvCache } from './kv-cache.js';
import type { CausalLM } from '../causal-lm.js';
import { type BloomWeights, type ComputeDType, type LinearParams, loadBloomWeights, type WeightQuantizationOptions } from './weights.js';

/** One forward call over `batch` rows of `queryLen` new positions each. */
export interface ForwardInput {
  /** `[batch, queryLen]` token ids. */
  readonly ids: Int32Array;
  readonly batch: number;
  /** `[batch, pastLen + queryLen]`: 1 for a real token, 0 for (left) padding. */
  readonly mask: Uint8Array;
  /** Keys and values of earlier positions; this call appends to it. Omit for a one-shot forward. */
  readonly cache?: KvCache;
  /** Also return the input of every block and the final normalised state (for tests and analysis). */
  readonly collectHiddenStates?: boolean;
}

export interface ForwardOutput {
  /** `[batch, queryLen, hidden]` after the final LayerNorm: the input of the lm_head. */
  readonly hidden: Float32Array;
  /** When asked: `numLayers + 1` arrays, as Hugging Face's `output_hidden_states`. */
  readonly hiddenStates?: Float32Array[];
}

/** The linear layers of a BLOOM block, by their checkpoint names (what peft's target_modules name). */
export type BlockLinearName = 'query_key_value' | 'dense' | 'dense_h_to_4h' | 'dense_4h_to_h';

/**
 * Adds to a block linear's output: how LoRA joins the frozen model. Called with the layer's input x
 * `[rows, in]` and its output y `[rows, out]`, which it updates in place.
 */
export interface LinearAdapter {
  apply(layer: number, module: BlockLinearName, x: Float32Array, rows: number, y: Float32Array): void;
}

export interface LoadOptions extends WeightQuantizationOptions {
  readonly backend: Backend;
  readonly dtype: ComputeDType;
  readonly onTensorLoaded?: (name: string, loaded: number, total: number) => void;
}

/**
 * BLOOM, read top to bottom: embeddings → LayerNorm → pre-LN blocks (ALiBi self-attention, GELU MLP)
 * → final LayerNorm → tied lm_head. Numerics follow Hugging Face transformers' BloomForCausalLM.
 */
export class BloomModel implements CausalLM {
  readonly slopes: Float32Array;
  /** LoRA (or another adapter of the block linears) when one is active. */
  linearAdapter: LinearAdapter | undefined;

  constructor(
    readonly config: BloomConfig,
    readonly weights: BloomWeights,
    readonly backend: Backend,
    readonly dtype: ComputeDType,
    /** The checkpoint directory the weights came from, when loaded from one (merging re-reads it). */
    readonly sourceDir?: string,
    /** How the block linears are stored: 'nf4' when quantised on load (QLoRA). */
    readonly quantization?: 'nf4',
  ) {
    this.slopes = alibiSlopes(config.numHeads);
  }

  static load(dir: string, options: LoadOptions): BloomModel {
    const config = readBloomConfig(join(dir, 'config.json'));
    const tensors = CheckpointTensors.open(dir);
    try {
      const total = 4 + 12 * config.numLayers + 2 + (config.tieWordEmbeddings ? 0 : 1);
      let loaded = 0;
      const weights = loadBloomWeights(tensors, config, options.backend, options.dtype, (name) => options.onTensorLoaded?.(name, ++loaded, total), {
        quantization: options.quantization,
        doubleQuant: options.doubleQuant,
      });
      return new BloomModel(config, weights, options.backend, options.dtype, dir, options.quantization);
    } finally {
      tensors.close();
    }
  }

  /** Word-embedding rows for `ids`, `[ids.length, hidden]`, before word_embeddings_layernorm. */
  embed(ids: Int32Array): Float32Array {
    const vocab = this.config.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i] >= 0 && ids[i] < vocab)) throw new InvalidInputError('ids', `token id ${ids[i]} at position ${i} is outside the vocabulary [0, ${vocab})`);
    }
    return this.backend.embedding(this.weights.wordEmbeddings, ids);
  }

  forward(input: ForwardInput): ForwardOutput {
    return this.forwardEmbeddings(this.embed(input.ids), input);
  }

  /** A cache for `batch` rows of up to `capacity` positions. */
  createCache(batch: number, capacity: number): KvCache {
    return new KvCache(this.config, batch, capacity);
  }

  /**
   * The transformer on input embeddings `[batch, queryLen, hidden]` as Hugging Face's `inputs_embeds`:
   * word_embeddings_layernorm, the blocks, ln_f. Prompt tuning prepends its virtual tokens here.
   */
  forwardEmbeddings(inputEmbeddings: Float32Array, input: Omit<ForwardInput, 'ids'>): ForwardOutput {
    const { weight, bias } = this.weights.wordEmbeddingsLayernorm;
    const embeddings = this.backend.layerNorm(inputEmbeddings, weight, bias, this.config.layerNormEpsilon);
    const { batch, mask, cache } = input;
    const { hiddenSize, numLayers, numHeads, headDim } = this.config;
    const queryLen = embeddings.length / (batch * hiddenSize);
    if (!Number.isInteger(queryLen) || queryLen < 1) {
      throw new InvalidInputError('ids', `${embeddings.length / hiddenSize} positions do not split into ${batch} rows`);
    }
    const pastLen = cache ? cache.length : 0;
    if (mask.length !== batch * (pastLen + queryLen)) {
      throw new InvalidInputError('mask', `has ${mask.length} entries, expected ${batch} x ${pastLen + queryLen} (past ${pastLen} + new ${queryLen})`);
    }
    if (cache && (cache.batch !== batch || pastLen + queryLen > cache.capacity)) {
      throw new InvalidInputError('cache', `holds ${cache.batch} rows and ${cache.capacity} positions; this call needs ${batch} rows and ${pastLen + queryLen}`);
    }
    // Without a cache the keys and values are needed only inside each layer, so one buffer serves all.
    const scratch = cache ? undefined : new KvCache({ ...this.config, numLayers: 1 }, batch, queryLen);
    const hiddenStates: Float32Array[] | undefined = input.collectHiddenStates ? [embeddings] : undefined;

    let hidden = embeddings;
    for (let layer = 0; layer < numLayers; layer++) {
      hidden = this.block(layer, hidden, {
        batch,
        queryLen,
        heads: numHeads,
        headDim,
        keyCache: cache ? cache.keys[layer] : scratch!.keys[0],
        valueCache: cache ? cache.values[layer] : scratch!.values[0],
        capacity: cache ? cache.capacity : queryLen,
        pastLen,
        mask,
        slopes: this.slopes,
      });
      if (hiddenStates && layer < numLayers - 1) hiddenStates.push(hidden);
    }
    if (cache) cache.length = pastLen + queryLen;
    const normalised = this.backend.layerNorm(hidden, this.weights.lnF.weight, this.weights.lnF.bias, this.config.layerNormEpsilon);
    hiddenStates?.push(normalised);
    return { hidden: normalised, hiddenStates };
  }

  /** lm_head over `rows` hidden states: `[rows, vocab]` logits. Call it only where logits are needed. */
  logits(hidden: Float32Array, rows: number): Float32Array {
    return this.backend.linear(hidden, rows, this.weights.lmHead, null);
  }

  private block(layer: number, hidden: Float32Array, attention: Omit<Parameters<Backend['attention']>[0], 'qkv'>): Float32Array {
    const { backend } = this;
    const w = this.weights.blocks[layer];
    const eps = this.config.layerNormEpsilon;
    const rows = attention.batch * attention.queryLen;
    const linear = (module: BlockLinearName, params: LinearParams, x: Float32Array): Float32Array => {
      const y = backend.linear(x, rows, params.weight, params.bias);
      this.linearAdapter?.apply(layer, module, x, rows, y);
      return y;
    };

    const attentionInput = backend.layerNorm(hidden, w.inputLayernorm.weight, w.inputLayernorm.bias, eps);
    const qkv = linear('query_key_value', w.queryKeyValue, attentionInput);
    const context = backend.attention({ ...attention, qkv });
    const attentionOutput = linear('dense', w.dense, context);
    const residual = this.config.applyResidualConnectionPostLayernorm ? attentionInput : hidden;
    backend.addInPlace(attentionOutput, residual);

    const mlpInput = backend.layerNorm(attentionOutput, w.postAttentionLayernorm.weight, w.postAttentionLayernorm.bias, eps);
    const up = backend.gelu(linear('dense_h_to_4h', w.denseHTo4h, mlpInput));
    const mlpOutput = linear('dense_4h_to_h', w.dense4hToH, up);
    backend.addInPlace(mlpOutput, this.config.applyResidualConnectionPostLayernorm ? mlpInput : attentionOutput);
    return mlpOutput;
  }
}
