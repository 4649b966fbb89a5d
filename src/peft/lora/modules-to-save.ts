import { join } from 'node:path';
import type { Weight } from '../../engine/backend.js';
import type { Tensor } from '../../engine/tensor.js';
import { AdapterError, InvalidInputError } from '../../errors.js';
import { CheckpointTensors } from '../../models/bloom/checkpoint.js';
import type { BloomConfig } from '../../models/bloom/config.js';
import type { BloomModel } from '../../models/bloom/model.js';
import type { BloomWeights, LayerNormParams } from '../../models/bloom/weights.js';
import { ADAPTER_CONFIG_FILE } from '../adapter-files.js';

/**
 * peft's modules_to_save on BLOOM: whole modules whose tensors an adapter replaces (and trains fully).
 * peft wraps each module whose path ends with an entry in a copy of it, and saves the copy's tensors as
 * `base_model.model.<path>.<weight|bias>`. The lm_head's copy no longer shares the word embeddings'
 * tensor, so a replaced lm_head (or replaced word embeddings) unties the two.
 *
 * Replaceable here: lm_head, word_embeddings and the LayerNorms. Block linears are refused: peft wraps
 * them in a copy that LoRA then no longer targets, which tuneloop does not model.
 */

/** A module whose tensors modules_to_save can replace, by checkpoint names (`transformer.ln_f.weight`, `lm_head.weight`). */
export interface ReplaceableModule {
  readonly path: string;
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[] }[];
}

const BLOCK_LINEAR_PATH = /^transformer\.h\.\d+\.(?:self_attention\.(?:query_key_value|dense)|mlp\.(?:dense_h_to_4h|dense_4h_to_h))$/;

export function replaceableModules(config: BloomConfig): ReplaceableModule[] {
  const h = config.hiddenSize;
  const layerNorm = (path: string): ReplaceableModule => ({ path, tensors: [{ name: `${path}.weight`, shape: [h] }, { name: `${path}.bias`, shape: [h] }] });
  const modules = [
    { path: 'transformer.word_embeddings', tensors: [{ name: 'transformer.word_embeddings.weight', shape: [config.vocabSize, h] }] },
    layerNorm('transformer.word_embeddings_layernorm'),
  ];
  for (let layer = 0; layer < config.numLayers; layer++) modules.push(layerNorm(`transformer.h.${layer}.input_layernorm`), layerNorm(`transformer.h.${layer}.post_attention_layernorm`));
  modules.push(layerNorm('transformer.ln_f'), { path: 'lm_head', tensors: [{ name: 'lm_head.weight', shape: [config.vocabSize, h] }] });
  return modules;
}

function blockLinearPaths(config: BloomConfig): string[] {
  const paths: string[] = [];
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const linear of ['self_attention.query_key_value', 'self_attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h']) paths.push(`transformer.h.${layer}.${linear}`);
  }
  return paths;
}

/** peft 0.7's rule: an entry selects every module whose path ends with it. */
const selectsModule = (entry: string, path: string) => path.endsWith(entry);

/**
 * The modules a modules_to_save list selects, each entry required to select something replaceable;
 * `where` names the field in the user's file for errors.
 */
export function selectModulesToSave(config: BloomConfig, entries: readonly string[], where: { readonly file: string; readonly field: string }): ReplaceableModule[] {
  const modules = replaceableModules(config);
  for (const entry of entries) {
    const linear = blockLinearPaths(config).find((path) => BLOCK_LINEAR_PATH.test(path) && selectsModule(entry, path));
    if (linear) {
      throw new AdapterError(where.file, `"${entry}" selects the block linear ${linear}; replacing block linears whole is not supported (lm_head, word_embeddings and LayerNorms are)`, { field: where.field });
    }
    if (!modules.some((m) => selectsModule(entry, m.path))) {
      throw new AdapterError(where.file, `"${entry}" selects no module of this BLOOM model (e.g. lm_head, word_embeddings, input_layernorm, ln_f)`, { field: where.field });
    }
  }
  return modules.filter((m) => entries.some((entry) => selectsModule(entry, m.path)));
}

/** The name peft saves a replacement tensor under. */
export const replacementTensorName = (checkpointName: string) => `base_model.model.${checkpointName}`;

const REPLACEMENT_NAME = /^base_model\.model\.(.+)$/;

/**
 * Takes the replacement tensors out of an adapter's `tensors` (peft names → values), checking that they
 * are exactly those of the modules `entries` selects, with the base model's shapes. Returns them by
 * checkpoint name; `tensors` keeps the rest.
 */
export function takeReplacements(config: BloomConfig, entries: readonly string[], tensors: Map<string, Tensor>, dir: string, weightsFile: string): Map<string, Tensor> {
  const modules = selectModulesToSave(config, entries, { file: join(dir, ADAPTER_CONFIG_FILE), field: 'modules_to_save' });
  const expected = new Map(modules.flatMap((m) => m.tensors.map((t) => [t.name, t.shape] as const)));
  const out = new Map<string, Tensor>();
  for (const [name, tensor] of tensors) {
    const checkpointName = REPLACEMENT_NAME.exec(name)?.[1];
    const shape = checkpointName === undefined ? undefined : expected.get(checkpointName);
    if (!shape || checkpointName === undefined) continue;
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new AdapterError(weightsFile, `shape [${tensor.shape.join(', ')}] does not fit the base model's [${shape.join(', ')}] (adapter trained for another model?)`, { tensor: name });
    }
    out.set(checkpointName, tensor);
    tensors.delete(name);
  }
  for (const name of expected.keys()) {
    if (!out.has(name)) throw new AdapterError(weightsFile, `is missing: modules_to_save ${JSON.stringify(entries)} selects its module`, { tensor: replacementTensorName(name) });
  }
  return out;
}

/** Fresh replacements for training: copies of the base model's own tensors, read from its checkpoint (so a tied lm_head starts as the embeddings). */
export function initialReplacements(model: BloomModel, entries: readonly string[]): Map<string, Tensor> {
  const modules = selectModulesToSave(model.config, entries, { file: 'training config', field: 'method.modules_to_save' });
  if (!model.sourceDir) throw new InvalidInputError('model', 'was not loaded from a checkpoint directory, so modules_to_save has no base tensors to start from');
  const checkpoint = CheckpointTensors.open(model.sourceDir);
  try {
    const out = new Map<string, Tensor>();
    for (const { name, shape } of modules.flatMap((m) => m.tensors)) {
      const stored = name === 'lm_head.weight' && model.config.tieWordEmbeddings ? 'word_embeddings.weight' : name.replace(/^transformer\./, '');
      const tensor = checkpoint.read(stored, 'f32', [...shape]);
      out.set(name, { dtype: 'f32', shape: [...shape], data: Float32Array.from(tensor.data as Float32Array) });
    }
    return out;
  } finally {
    checkpoint.close();
  }
}

function layerNormOf(weights: BloomWeights, path: string): LayerNormParams | undefined {
  if (path === 'transformer.word_embeddings_layernorm') return weights.wordEmbeddingsLayernorm;
  if (path === 'transformer.ln_f') return weights.lnF;
  const block = /^transformer\.h\.(\d+)\.(input_layernorm|post_attention_layernorm)$/.exec(path);
  if (!block) return undefined;
  const w = weights.blocks[Number(block[1])];
  return block[2] === 'input_layernorm' ? w.inputLayernorm : w.postAttentionLayernorm;
}

/**
 * The model's weights with `replacements` in place of the base tensors, leaving the model untouched:
 * matrices prepared for the backend from the replacement values, LayerNorm vectors the replacement
 * arrays themselves (so training's updates to them are seen at once).
 */
export function weightsWithReplacements(model: BloomModel, replacements: ReadonlyMap<string, Tensor>): BloomWeights {
  if (replacements.size === 0) return model.weights;
  const base = model.weights;
  const matrix = (name: string, fallback: Weight): Weight => {
    const tensor = replacements.get(name);
    return tensor ? model.backend.prepareWeight({ dtype: 'f32', shape: tensor.shape, data: tensor.data }, model.dtype) : fallback;
  };
  const layerNorm = (path: string, params: LayerNormParams): LayerNormParams => ({
    weight: (replacements.get(`${path}.weight`)?.data as Float32Array | undefined) ?? params.weight,
    bias: (replacements.get(`${path}.bias`)?.data as Float32Array | undefined) ?? params.bias,
  });
  return {
    wordEmbeddings: matrix('transformer.word_embeddings.weight', base.wordEmbeddings),
    wordEmbeddingsLayernorm: layerNorm('transformer.word_embeddings_layernorm', base.wordEmbeddingsLayernorm),
    blocks: base.blocks.map((block, layer) => ({
      ...block,
      inputLayernorm: layerNorm(`transformer.h.${layer}.input_layernorm`, block.inputLayernorm),
      postAttentionLayernorm: layerNorm(`transformer.h.${layer}.post_attention_layernorm`, block.postAttentionLayernorm),
    })),
    lnF: layerNorm('transformer.ln_f', base.lnF),
    // peft's copy of a tied lm_head is its own tensor; an untouched lm_head stays the base's.
    lmHead: matrix('lm_head.weight', base.lmHead),
  };
}

/**
 * Swaps an adapter's replacements into a loaded model for inference and back out: LayerNorm values are
 * copied into the model's arrays (the base values kept to restore), the embedding and lm_head matrices
 * replaced by prepared copies.
 */
export class ModuleReplacements {
  private readonly savedVectors = new Map<Float32Array, Float32Array>();
  private savedMatrices: { wordEmbeddings: Weight; lmHead: Weight } | undefined;

  constructor(private readonly model: BloomModel) {}

  /** Puts `replacements` in place of the base tensors, first restoring any earlier ones. */
  apply(replacements: ReadonlyMap<string, Tensor>): void {
    this.restore();
    if (replacements.size === 0) return;
    const { weights } = this.model;
    const replaced = weightsWithReplacements(this.model, replacements);
    for (const name of replacements.keys()) {
      const ln = /^(.+)\.(weight|bias)$/.exec(name);
      const params = ln ? layerNormOf(weights, ln[1]) : undefined;
      if (!params) continue;
      const target = params[ln![2] as 'weight' | 'bias'];
      this.savedVectors.set(target, Float32Array.from(target));
      target.set(replacements.get(name)!.data as Float32Array);
    }
    this.savedMatrices = { wordEmbeddings: weights.wordEmbeddings, lmHead: weights.lmHead };
    weights.wordEmbeddings = replaced.wordEmbeddings;
    weights.lmHead = replaced.lmHead;
  }

  /** Puts the base tensors back. */
  restore(): void {
    for (const [target, values] of this.savedVectors) target.set(values);
    this.savedVectors.clear();
    if (this.savedMatrices) {
      this.model.weights.wordEmbeddings = this.savedMatrices.wordEmbeddings;
      this.model.weights.lmHead = this.savedMatrices.lmHead;
      this.savedMatrices = undefined;
    }
  }
}
