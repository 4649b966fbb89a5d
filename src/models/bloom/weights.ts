import type { Backend, Weight } from '../../engine/backend.js';
import { DEFAULT_QLORA_CONFIG } from '../../peft/qlora/config.js';
import { quantizeNf4 } from '../../peft/qlora/nf4.js';
import type { CheckpointTensors } from './checkpoint.js';
import type { BloomConfig } from './config.js';

export interface LayerNormParams {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

export interface LinearParams {
  /** Replaced when an adapter is merged into the weights, and restored when it is unmerged. */
  weight: Weight;
  readonly bias: Float32Array;
}

export interface BloomBlockWeights {
  readonly inputLayernorm: LayerNormParams;
  readonly queryKeyValue: LinearParams;
  readonly dense: LinearParams;
  readonly postAttentionLayernorm: LayerNormParams;
  readonly denseHTo4h: LinearParams;
  readonly dense4hToH: LinearParams;
}

export interface BloomWeights {
  /** Replaced while a LoRA adapter with modules_to_save word_embeddings is active, and restored after. */
  wordEmbeddings: Weight;
  readonly wordEmbeddingsLayernorm: LayerNormParams;
  readonly blocks: readonly BloomBlockWeights[];
  readonly lnF: LayerNormParams;
  /**
   * The same Weight as wordEmbeddings when the checkpoint ties them (BLOOM always does). Replaced while
   * a LoRA adapter with modules_to_save lm_head is active, and restored after.
   */
  lmHead: Weight;
}

export type ComputeDType = 'f32' | 'bf16';

/** How the block linears are stored (QLoRA). */
export interface WeightQuantizationOptions {
  /** 'nf4': quantise every block linear to NF4 as it is read; embedding/lm_head, LayerNorms and biases stay unquantised. */
  readonly quantization?: 'nf4';
  /** Double-quantise the NF4 block scales (bnb_4bit_use_double_quant); default true, QLoRA's setting. */
  readonly doubleQuant?: boolean;
}

/**
 * Reads every tensor the model needs, checks its shape against the config, and hands matrices to the
 * backend in the compute precision. The big embedding comes first, while little else is resident.
 */
export function loadBloomWeights(
  tensors: Pick<CheckpointTensors, 'read'>,
  config: BloomConfig,
  backend: Backend,
  dtype: ComputeDType,
  onTensor: (name: string) => void = () => {},
  options: WeightQuantizationOptions = {},
): BloomWeights {
  const h = config.hiddenSize;
  const matrix = (name: string, out: number, inFeatures: number): Weight => {
    const weight = backend.prepareWeight(tensors.read(name, dtype, [out, inFeatures]), dtype);
    onTensor(name);
    return weight;
  };
  const doubleQuant = options.doubleQuant ?? DEFAULT_QLORA_CONFIG.doubleQuant;
  // A block linear: quantised from float32 when asked, the float32 copy dropped straight after.
  const blockMatrix = (name: string, out: number, inFeatures: number): Weight => {
    if (options.quantization !== 'nf4') return matrix(name, out, inFeatures);
    const values = tensors.read(name, 'f32', [out, inFeatures]).data as Float32Array;
    const weight = backend.prepareQuantizedWeight(quantizeNf4(values, { shape: [out, inFeatures], doubleQuant }), dtype);
    onTensor(name);
    return weight;
  };
  const vector = (name: string, length: number): Float32Array => {
    const data = tensors.read(name, 'f32', [length]).data as Float32Array;
    onTensor(name);
    return data;
  };
  const layerNorm = (prefix: string): LayerNormParams => ({ weight: vector(`${prefix}.weight`, h), bias: vector(`${prefix}.bias`, h) });
  const linear = (prefix: string, out: number, inFeatures: number): LinearParams => ({
    weight: blockMatrix(`${prefix}.weight`, out, inFeatures),
    bias: vector(`${prefix}.bias`, out),
  });

  const wordEmbeddings = matrix('word_embeddings.weight', config.vocabSize, h);
  const wordEmbeddingsLayernorm = layerNorm('word_embeddings_layernorm');
  const blocks: BloomBlockWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `h.${i}`;
    blocks.push({
      inputLayernorm: layerNorm(`${p}.input_layernorm`),
      queryKeyValue: linear(`${p}.self_attention.query_key_value`, 3 * h, h),
      dense: linear(`${p}.self_attention.dense`, h, h),
      postAttentionLayernorm: layerNorm(`${p}.post_attention_layernorm`),
      denseHTo4h: linear(`${p}.mlp.dense_h_to_4h`, 4 * h, h),
      dense4hToH: linear(`${p}.mlp.dense_4h_to_h`, h, 4 * h),
    });
  }
  const lnF = layerNorm('ln_f');
  const lmHead = config.tieWordEmbeddings ? wordEmbeddings : matrix('lm_head.weight', config.vocabSize, h);
  return { wordEmbeddings, wordEmbeddingsLayernorm, blocks, lnF, lmHead };
}
