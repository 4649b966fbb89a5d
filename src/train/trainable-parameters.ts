import type { BloomModel } from '../models/bloom/model.js';
import { modulePath } from '../peft/lora/config.js';
import type { Trainables } from './bloom-backward.js';
import type { BlockLinearName } from '../models/bloom/model.js';

const LINEARS: readonly [BlockLinearName, 'queryKeyValue' | 'dense' | 'denseHTo4h' | 'dense4hToH'][] = [
  ['query_key_value', 'queryKeyValue'],
  ['dense', 'dense'],
  ['dense_h_to_4h', 'denseHTo4h'],
  ['dense_4h_to_h', 'dense4hToH'],
];

/**
 * The live arrays that training updates, under the names `forwardBackward` gives their gradients:
 * the adapter's tensors, and for selective tuning the model's own biases and LayerNorm parameters.
 */
export function trainableParameters(model: BloomModel, trainables: Trainables): Map<string, Float32Array> {
  const params = new Map<string, Float32Array>();
  if (trainables.lora) for (const [name, tensor] of trainables.lora.tensors()) params.set(name, tensor.data as Float32Array);
  if (trainables.prompt) params.set('prompt_embeddings', trainables.prompt.promptEmbeddings);
  const { weights } = model;
  weights.blocks.forEach((block, layer) => {
    if (trainables.biases) for (const [module, field] of LINEARS) params.set(`${modulePath(layer, module)}.bias`, block[field].bias);
    if (trainables.layerNorms) {
      for (const [name, ln] of [['input_layernorm', block.inputLayernorm], ['post_attention_layernorm', block.postAttentionLayernorm]] as const) {
        params.set(`transformer.h.${layer}.${name}.weight`, ln.weight);
        params.set(`transformer.h.${layer}.${name}.bias`, ln.bias);
      }
    }
  });
  if (trainables.layerNorms) {
    for (const [name, ln] of [['word_embeddings_layernorm', weights.wordEmbeddingsLayernorm], ['ln_f', weights.lnF]] as const) {
      params.set(`transformer.${name}.weight`, ln.weight);
      params.set(`transformer.${name}.bias`, ln.bias);
    }
  }
  return params;
}
