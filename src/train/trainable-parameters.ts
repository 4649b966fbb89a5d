import type { Trainables } from './bloom-backward.js';

/**
 * The live arrays that training updates, under the names `forwardBackward` gives their gradients:
 * the adapter's tensors (peft's names, modules_to_save replacements included), and for selective tuning
 * the model's own tensors (checkpoint names).
 */
export function trainableParameters(trainables: Trainables): Map<string, Float32Array> {
  const params = new Map<string, Float32Array>();
  if (trainables.lora) for (const [name, tensor] of trainables.lora.tensors()) params.set(name, tensor.data as Float32Array);
  if (trainables.prompt) params.set('prompt_embeddings', trainables.prompt.promptEmbeddings);
  if (trainables.selective) for (const [name, values] of trainables.selective.parameters()) params.set(name, values);
  return params;
}
