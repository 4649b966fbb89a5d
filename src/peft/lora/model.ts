import { join } from 'node:path';
import type { Tensor } from '../../engine/tensor.js';
import { AdapterError, InvalidInputError } from '../../errors.js';
import { CheckpointTensors } from '../../models/bloom/checkpoint.js';
import type { BloomConfig } from '../../models/bloom/config.js';
import type { BlockLinearName, BloomModel, LinearAdapter } from '../../models/bloom/model.js';
import type { BloomBlockWeights, LinearParams } from '../../models/bloom/weights.js';
import { ADAPTER_WEIGHTS_FILE, readAdapterFiles, writeAdapterFiles } from '../adapter-files.js';
import { type LoraConfig, loraConfigJson, loraScaling, modulePath, parseLoraConfig, targetsModule, BLOCK_LINEAR_NAMES } from './config.js';
import { LoraLayer } from './layer.js';
import { ModuleReplacements, replacementTensorName, takeReplacements } from './modules-to-save.js';

/** Where each block linear sits in BloomBlockWeights. */
const BLOCK_FIELD: Readonly<Record<BlockLinearName, keyof BloomBlockWeights>> = {
  query_key_value: 'queryKeyValue',
  dense: 'dense',
  dense_h_to_4h: 'denseHTo4h',
  dense_4h_to_h: 'dense4hToH',
};

/**
 * A saved LoRA tensor: lora_A / lora_B, or DoRA's magnitude. peft writes the magnitude as
 * `lora_magnitude_vector` in every version (0.12+ hold it as `lora_magnitude_vector.<adapter>.weight`
 * in memory and strip the `.weight` when saving); the in-memory spelling is accepted too.
 */
const TENSOR_NAME = /^base_model\.model\.(?:transformer\.)?h\.(\d+)\.(?:self_attention|mlp)\.(query_key_value|dense|dense_h_to_4h|dense_4h_to_h)\.(lora_A\.weight|lora_B\.weight|lora_magnitude_vector(?:\.weight)?)$/;

function layerKey(layer: number, module: BlockLinearName): string {
  return `${layer}.${module}`;
}

function linearShape(config: BloomConfig, module: BlockLinearName): { out: number; in: number } {
  const h = config.hiddenSize;
  return { query_key_value: { out: 3 * h, in: h }, dense: { out: h, in: h }, dense_h_to_4h: { out: 4 * h, in: h }, dense_4h_to_h: { out: h, in: 4 * h } }[module];
}

/** One named LoRA adapter: its config and a LoraLayer per targeted block linear. */
export class LoraAdapter {
  constructor(
    readonly name: string,
    readonly config: LoraConfig,
    readonly layers: ReadonlyMap<string, LoraLayer>,
    /** adapter_config.json as read (kept whole for a lossless round trip), when read from files. */
    readonly configJson?: Record<string, unknown>,
    /**
     * modules_to_save: full replacement tensors by checkpoint name (`lm_head.weight`,
     * `transformer.h.0.input_layernorm.bias`); training updates their arrays in place.
     */
    readonly modulesToSave: ReadonlyMap<string, Tensor> = new Map(),
  ) {}

  layer(layer: number, module: BlockLinearName): LoraLayer | undefined {
    return this.layers.get(layerKey(layer, module));
  }

  /** peft's saved tensor names (without the adapter name) and values. */
  tensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [key, l] of this.layers) {
      const [layer, module] = key.split('.') as [string, BlockLinearName];
      const prefix = `base_model.model.${modulePath(Number(layer), module)}`;
      out.set(`${prefix}.lora_A.weight`, { dtype: 'f32', shape: [l.r, l.inFeatures], data: l.a });
      out.set(`${prefix}.lora_B.weight`, { dtype: 'f32', shape: [l.outFeatures, l.r], data: l.b });
      if (l.magnitude) out.set(`${prefix}.lora_magnitude_vector`, { dtype: 'f32', shape: [l.outFeatures], data: l.magnitude });
    }
    for (const [name, tensor] of this.modulesToSave) out.set(replacementTensorName(name), tensor);
    return out;
  }

  /** Saves in peft's format: adapter_config.json and adapter_model.safetensors, atomically. */
  save(dir: string, baseModel: string, extraFiles?: ReadonlyMap<string, string>): void {
    const config = this.configJson ?? loraConfigJson(this.config, baseModel);
    writeAdapterFiles(dir, config, this.tensors(), extraFiles);
  }
}

/** Reads a peft LoRA adapter directory, checking every tensor against the base model's shapes. */
export function readLoraAdapter(dir: string, modelConfig: BloomConfig, name = 'default'): LoraAdapter {
  const files = readAdapterFiles(dir);
  if (files.config.peft_type !== 'LORA') {
    throw new AdapterError(join(dir, 'adapter_config.json'), `is a ${JSON.stringify(files.config.peft_type)} adapter, not LORA`, { field: 'peft_type' });
  }
  const config = parseLoraConfig(files);
  const scaling = loraScaling(config);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  const loraTensors = new Map(files.tensors);
  const modulesToSave = takeReplacements(modelConfig, config.modulesToSave ?? [], loraTensors, dir, weightsPath);
  // A SEQ_CLS adapter (a reward model) also holds its score head, which is not part of LoRA: readRewardAdapter reads it.
  if (files.config.task_type === 'SEQ_CLS') loraTensors.delete('base_model.model.score.weight');
  const pairs = new Map<string, { a?: Tensor; b?: Tensor; magnitude?: Tensor; layer: number; module: BlockLinearName }>();
  for (const [tensorName, tensor] of loraTensors) {
    const match = TENSOR_NAME.exec(tensorName);
    if (!match) throw new AdapterError(weightsPath, 'is not a LoRA tensor of a BLOOM block linear', { tensor: tensorName });
    const layer = Number(match[1]);
    const module = match[2] as BlockLinearName;
    if (layer >= modelConfig.numLayers) {
      throw new AdapterError(weightsPath, `layer ${layer} does not exist: the base model has ${modelConfig.numLayers} layers (adapter trained for another model?)`, { tensor: tensorName });
    }
    const part = match[3] === 'lora_A.weight' ? 'A' : match[3] === 'lora_B.weight' ? 'B' : 'magnitude';
    if (part === 'magnitude' && !config.useDora) {
      throw new AdapterError(weightsPath, 'is a DoRA magnitude, but adapter_config.json does not set "use_dora": true', { tensor: tensorName });
    }
    if (!targetsModule(config, layer, module)) {
      throw new AdapterError(weightsPath, 'is a LoRA tensor of a module adapter_config.json does not target (target_modules, layers_to_transform, exclude_modules)', { tensor: tensorName });
    }
    const shape = linearShape(modelConfig, module);
    const expected = part === 'A' ? [config.r, shape.in] : part === 'B' ? [shape.out, config.r] : [shape.out];
    if (tensor.shape.length !== expected.length || tensor.shape.some((size, i) => size !== expected[i])) {
      throw new AdapterError(
        weightsPath,
        `shape [${tensor.shape.join(', ')}] does not fit the base model: expected [${expected.join(', ')}] for r=${config.r}, hidden ${modelConfig.hiddenSize} (adapter trained for another model?)`,
        { tensor: tensorName },
      );
    }
    const key = layerKey(layer, module);
    const pair = pairs.get(key) ?? { layer, module };
    if (pair[part === 'A' ? 'a' : part === 'B' ? 'b' : 'magnitude']) {
      throw new AdapterError(weightsPath, 'appears twice (as `lora_magnitude_vector` and `lora_magnitude_vector.weight`)', { tensor: tensorName });
    }
    if (part === 'A') pair.a = tensor;
    else if (part === 'B') pair.b = tensor;
    else pair.magnitude = tensor;
    pairs.set(key, pair);
  }
  if (pairs.size === 0) throw new AdapterError(weightsPath, 'holds no LoRA tensors');
  const layers = new Map<string, LoraLayer>();
  for (const [key, pair] of pairs) {
    if (!pair.a || !pair.b) {
      const missing = `base_model.model.${modulePath(pair.layer, pair.module)}.lora_${pair.a ? 'B' : 'A'}.weight`;
      throw new AdapterError(weightsPath, 'is missing: LoRA needs both A and B', { tensor: missing });
    }
    if (config.useDora && !pair.magnitude) {
      const missing = `base_model.model.${modulePath(pair.layer, pair.module)}.lora_magnitude_vector`;
      throw new AdapterError(weightsPath, 'is missing: adapter_config.json sets "use_dora": true, so every adapted layer needs its magnitude', { tensor: missing });
    }
    const shape = linearShape(modelConfig, pair.module);
    const magnitude = pair.magnitude?.data as Float32Array | undefined;
    layers.set(key, new LoraLayer(config.r, shape.in, shape.out, pair.a.data as Float32Array, pair.b.data as Float32Array, scaling, magnitude));
  }
  return new LoraAdapter(name, config, layers, files.config, modulesToSave);
}

/**
 * LoRA on a loaded BLOOM model: several adapters loaded at once, one active per call, merged into the
 * frozen weights (exactly, from the checkpoint's own values) and unmerged. Adapters are frozen here
 * (training goes through forwardBackward), so each DoRA layer's row norms are measured once.
 */
export class LoraModel implements LinearAdapter {
  private readonly adapters = new Map<string, LoraAdapter>();
  private active: LoraAdapter | undefined;
  private merged: LoraAdapter | undefined;
  /** DoRA's m/‖W + s·B·A‖_row per layer, against the unmerged weights. */
  private readonly doraRowScales = new WeakMap<LoraLayer, Float32Array>();
  /** The active adapter's modules_to_save tensors, swapped into the model. */
  private readonly replacements: ModuleReplacements;

  constructor(readonly model: BloomModel) {
    model.linearAdapter = this;
    this.replacements = new ModuleReplacements(model);
  }

  add(adapter: LoraAdapter): void {
    this.adapters.set(adapter.name, adapter);
    if (this.active) return;
    this.active = adapter;
    this.replacements.apply(adapter.modulesToSave);
  }

  names(): string[] {
    return [...this.adapters.keys()];
  }

  /** Chooses the adapter later calls use; undefined runs the base model alone. */
  setActive(name: string | undefined): void {
    if (this.merged) throw new InvalidInputError('adapter', `"${this.merged.name}" is merged into the weights; unmerge it before switching`);
    if (name === undefined) {
      this.active = undefined;
      this.replacements.restore();
      return;
    }
    const adapter = this.adapters.get(name);
    if (!adapter) throw new InvalidInputError('adapter', `no adapter named "${name}" (loaded: ${this.names().join(', ') || 'none'})`);
    this.active = adapter;
    this.replacements.apply(adapter.modulesToSave);
  }

  apply(layer: number, module: BlockLinearName, x: Float32Array, rows: number, y: Float32Array): void {
    if (this.merged) return;
    const lora = this.active?.layer(layer, module);
    if (!lora) return;
    const { backend } = this.model;
    if (!lora.magnitude) {
      lora.apply(backend, x, rows, y);
      return;
    }
    const params = this.model.weights.blocks[layer][BLOCK_FIELD[module]] as LinearParams;
    let rowScale = this.doraRowScales.get(lora);
    if (!rowScale) {
      rowScale = lora.doraRowScale(backend, params.weight);
      this.doraRowScales.set(lora, rowScale);
    }
    lora.applyDora(backend, x, rows, y, params.bias, rowScale);
  }

  /** W += scaling·B·A (for DoRA then rescaled per row) for the active adapter, from the checkpoint's values. */
  merge(): void {
    const adapter = this.active;
    if (!adapter) throw new InvalidInputError('adapter', 'no active adapter to merge');
    if (this.merged) throw new InvalidInputError('adapter', `"${this.merged.name}" is already merged`);
    this.replaceTargetWeights(adapter, (layer, values) => layer.mergeInto(values));
    this.merged = adapter;
  }

  /** Restores the frozen weights exactly as loaded. */
  unmerge(): void {
    if (!this.merged) throw new InvalidInputError('adapter', 'nothing is merged');
    this.replaceTargetWeights(this.merged, () => undefined);
    this.merged = undefined;
  }

  private replaceTargetWeights(adapter: LoraAdapter, update: (layer: LoraLayer, values: Float32Array) => void): void {
    const { model } = this;
    if (!model.sourceDir) throw new InvalidInputError('model', 'was not loaded from a checkpoint directory, so its weights cannot be re-read for merging');
    const tensors = CheckpointTensors.open(model.sourceDir);
    try {
      for (const [key, layer] of adapter.layers) {
        const [index, module] = key.split('.') as [string, BlockLinearName];
        const shape = linearShape(model.config, module);
        const name = `h.${index}.${module === 'query_key_value' || module === 'dense' ? 'self_attention' : 'mlp'}.${module}.weight`;
        const base = tensors.read(name, 'f32', [shape.out, shape.in]);
        update(layer, base.data as Float32Array);
        const params = model.weights.blocks[Number(index)][BLOCK_FIELD[module]] as LinearParams;
        params.weight = model.backend.prepareWeight(base, model.dtype);
      }
    } finally {
      tensors.close();
    }
  }
}

/**
 * A fresh LoRA adapter for `config`: A random (Kaiming-uniform as peft), B zero, so it starts as a no-op.
 * DoRA's magnitude starts as the row norms of the frozen weight (of W + s·B·A with B zero, as peft), so
 * `baseModel` is needed for `useDora`. With config.modulesToSave, `modulesToSave` holds their starting
 * tensors (initialReplacements).
 */
export function createLoraAdapter(
  modelConfig: BloomConfig,
  config: LoraConfig,
  name: string,
  random: () => number,
  start: { readonly baseModel?: BloomModel; readonly modulesToSave?: ReadonlyMap<string, Tensor> } = {},
): LoraAdapter {
  const { baseModel, modulesToSave } = start;
  if (config.useDora && !baseModel) throw new InvalidInputError('use_dora', 'a DoRA adapter starts from the base model\'s weight norms; pass the base model');
  if (config.modulesToSave?.length && !modulesToSave) {
    throw new InvalidInputError('modules_to_save', 'needs starting copies of the base tensors (initialReplacements(model, modules_to_save))');
  }
  const layers = new Map<string, LoraLayer>();
  const scaling = loraScaling(config);
  for (let layer = 0; layer < modelConfig.numLayers; layer++) {
    for (const module of BLOCK_LINEAR_NAMES) {
      if (!targetsModule(config, layer, module)) continue;
      const shape = linearShape(modelConfig, module);
      // kaiming_uniform_(a=√5) on [r, in] gives bound = 1/√in.
      const bound = 1 / Math.sqrt(shape.in);
      const a = Float32Array.from({ length: config.r * shape.in }, () => (2 * random() - 1) * bound);
      const lora = new LoraLayer(config.r, shape.in, shape.out, a, new Float32Array(shape.out * config.r), scaling);
      if (!baseModel || !config.useDora) {
        layers.set(layerKey(layer, module), lora);
        continue;
      }
      const params = baseModel.weights.blocks[layer][BLOCK_FIELD[module]] as LinearParams;
      const magnitude = lora.weightRowNorms(baseModel.backend, params.weight);
      layers.set(layerKey(layer, module), new LoraLayer(config.r, shape.in, shape.out, a, lora.b, scaling, magnitude));
    }
  }
  if (layers.size === 0) throw new InvalidInputError('target_modules', `matches no linear layer of this BLOOM model (${BLOCK_LINEAR_NAMES.join(', ')})`);
  return new LoraAdapter(name, config, layers, undefined, modulesToSave);
}
