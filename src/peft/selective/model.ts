import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../../engine/tensor.js';
import { AdapterError, InvalidInputError } from '../../errors.js';
import { SafetensorsFile, writeSafetensors } from '../../formats/safetensors.js';
import { CheckpointTensors } from '../../models/bloom/checkpoint.js';
import type { BloomModel } from '../../models/bloom/model.js';
import type { LinearParams } from '../../models/bloom/weights.js';
import { ACCEPTED, ADAPTER_CONFIG_FILE, checkConfigFields, type ConfigFieldRule, isInertValue, PEFT_CONFIG_FIELDS, writeAdapterFiles, writeDirectoryAtomically } from '../adapter-files.js';
import { LN_TUNING_DEFAULT_TARGETS, type SelectiveSpec, selectTensors, tunableTensorNames } from './config.js';

/** tuneloop's own files for selective tuning peft has no method for (bias tuning, named tensors). */
export const SELECTIVE_CONFIG_FILE = 'selective_tuning.json';
export const SELECTIVE_WEIGHTS_FILE = 'tuned_tensors.safetensors';

/** peft LN tuning's saved name of a LayerNorm tensor: `base_model.model.<module>.ln_tuning_layers.<weight|bias>`. */
function lnTuningName(checkpointName: string): string {
  const dot = checkpointName.lastIndexOf('.');
  return `base_model.model.${checkpointName.slice(0, dot)}.ln_tuning_layers${checkpointName.slice(dot)}`;
}

/** peft LN tuning's saved tensor name, capturing the checkpoint module and weight|bias. */
export const LN_TUNING_NAME = /^base_model\.model\.(.+)\.ln_tuning_layers\.(weight|bias)$/;

/** Where a tunable tensor lives in a loaded model: a float32 vector, or a block linear's weight. */
type Location = { readonly kind: 'vector'; readonly values: Float32Array } | { readonly kind: 'linear'; readonly params: LinearParams; readonly shape: [number, number] };

function locate(model: BloomModel, name: string): Location {
  const { weights } = model;
  const top = /^transformer\.(word_embeddings_layernorm|ln_f)\.(weight|bias)$/.exec(name);
  if (top) {
    const ln = top[1] === 'ln_f' ? weights.lnF : weights.wordEmbeddingsLayernorm;
    return { kind: 'vector', values: ln[top[2] as 'weight' | 'bias'] };
  }
  const block = /^transformer\.h\.(\d+)\.(input_layernorm|post_attention_layernorm|self_attention\.query_key_value|self_attention\.dense|mlp\.dense_h_to_4h|mlp\.dense_4h_to_h)\.(weight|bias)$/.exec(name);
  if (!block || Number(block[1]) >= weights.blocks.length) throw new InvalidInputError('selective tuning', `"${name}" is not a tunable tensor of this model`);
  const w = weights.blocks[Number(block[1])];
  const field = block[3] as 'weight' | 'bias';
  switch (block[2]) {
    case 'input_layernorm':
      return { kind: 'vector', values: w.inputLayernorm[field] };
    case 'post_attention_layernorm':
      return { kind: 'vector', values: w.postAttentionLayernorm[field] };
  }
  const params = { 'self_attention.query_key_value': w.queryKeyValue, 'self_attention.dense': w.dense, 'mlp.dense_h_to_4h': w.denseHTo4h, 'mlp.dense_4h_to_h': w.dense4hToH }[block[2]]!;
  if (field === 'bias') return { kind: 'vector', values: params.bias };
  return { kind: 'linear', params, shape: [params.weight.outFeatures, params.weight.inFeatures] };
}

/**
 * Selective tuning on a loaded model: the chosen tensors are trained in place. Vectors (biases,
 * LayerNorm parameters) are the model's own arrays; a block linear's weight is held by the backend in
 * its compute layout, so training updates a float32 master copy read from the checkpoint and `sync`
 * hands it back to the backend after each optimiser step. `restore` puts the frozen values back, so
 * one loaded base serves task after task.
 */
export class SelectiveTuning {
  readonly names: ReadonlySet<string>;
  private readonly live = new Map<string, Float32Array>();
  private readonly frozen = new Map<string, Float32Array>();
  private readonly linears = new Map<string, { params: LinearParams; shape: [number, number] }>();

  constructor(
    readonly model: BloomModel,
    readonly spec: SelectiveSpec,
    names: readonly string[],
  ) {
    if (names.length === 0) throw new InvalidInputError('selective tuning', 'selects no tensor');
    this.names = new Set(names);
    let checkpoint: CheckpointTensors | undefined;
    try {
      for (const name of names) {
        const where = locate(model, name);
        if (where.kind === 'vector') {
          this.live.set(name, where.values);
          this.frozen.set(name, Float32Array.from(where.values));
          continue;
        }
        if (model.quantization) throw new InvalidInputError('method.parameters', `"${name}" is stored quantised (${model.quantization}); a quantised weight cannot be tuned, train LoRA on it instead`);
        if (!model.sourceDir) throw new InvalidInputError('model', `was not loaded from a checkpoint directory, so "${name}" has no float32 copy to train`);
        checkpoint ??= CheckpointTensors.open(model.sourceDir);
        const master = checkpoint.read(name.replace(/^transformer\./, ''), 'f32', where.shape).data as Float32Array;
        this.live.set(name, master);
        this.frozen.set(name, Float32Array.from(master));
        this.linears.set(name, { params: where.params, shape: where.shape });
      }
    } finally {
      checkpoint?.close();
    }
  }

  /** Selects the tensors of `spec` on `model`. */
  static create(model: BloomModel, spec: SelectiveSpec): SelectiveTuning {
    return new SelectiveTuning(model, spec, selectTensors(model.config, spec));
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** The float32 arrays training updates, by checkpoint name. */
  parameters(): Map<string, Float32Array> {
    return new Map(this.live);
  }

  /** Hands updated linear weights to the backend; call after every change to `parameters()`. */
  sync(): void {
    for (const [name, { params, shape }] of this.linears) {
      params.weight = this.model.backend.prepareWeight({ dtype: 'f32', shape, data: this.live.get(name)! }, this.model.dtype);
    }
  }

  /** Puts the frozen values back into the model. */
  restore(): void {
    for (const [name, values] of this.frozen) this.live.get(name)!.set(values);
    this.sync();
  }

  /** Copies of the tuned values, by checkpoint name. */
  private tensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, values] of this.live) {
      const linear = this.linears.get(name);
      out.set(name, { dtype: 'f32', shape: linear ? linear.shape : [values.length], data: Float32Array.from(values) });
    }
    return out;
  }

  /**
   * Saves the tuned tensors atomically. LN tuning is written in peft's LN_TUNING format
   * (adapter_config.json + adapter_model.safetensors), which peft loads; bias and named-tensor tuning,
   * which peft has no method for, as selective_tuning.json + tuned_tensors.safetensors.
   */
  save(dir: string, baseModel: string, extraFiles: ReadonlyMap<string, string> = new Map()): void {
    const tensors = this.tensors();
    if (this.spec.kind === 'layernorm') {
      const renamed = new Map([...tensors].map(([name, tensor]) => [lnTuningName(name), tensor]));
      writeAdapterFiles(dir, lnTuningConfigJson(this.spec.targetModules ?? LN_TUNING_DEFAULT_TARGETS, baseModel), renamed, extraFiles);
      return;
    }
    writeDirectoryAtomically(dir, (staging) => {
      for (const [name, contents] of extraFiles) writeFileSync(join(staging, name), contents);
      const config = { format: 'tuneloop-selective-tuning', version: 1, base_model_name_or_path: baseModel, spec: specJson(this.spec), tensors: [...this.names] };
      writeFileSync(join(staging, SELECTIVE_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
      writeSafetensors(join(staging, SELECTIVE_WEIGHTS_FILE), tensors, { format: 'pt' });
    });
  }

  /**
   * Overwrites the selected tensors with `values` (by checkpoint name), checking each name and size;
   * errors name the tensor as `file` stores it.
   */
  load(values: ReadonlyMap<string, Tensor>, file: string, storedName: (name: string) => string = (name) => name): void {
    for (const [name, tensor] of values) {
      const target = this.live.get(name);
      if (!target) throw new AdapterError(file, 'is not a tensor this adapter tunes', { tensor: storedName(name) });
      if (tensor.data.length !== target.length) {
        throw new AdapterError(file, `has ${tensor.data.length} values but the base model's tensor has ${target.length}: the adapter was made for another base model`, { tensor: storedName(name) });
      }
      target.set(tensor.data as Float32Array);
    }
    this.sync();
  }
}

/** A spec as selective_tuning.json stores it, with snake_case keys. */
function specJson(spec: SelectiveSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'layernorm':
      return { kind: spec.kind, ...(spec.targetModules ? { target_modules: [...spec.targetModules] } : {}) };
    case 'bias':
      return { kind: spec.kind };
    case 'named':
      return { kind: spec.kind, patterns: [...spec.patterns] };
  }
}

/** The spec selective_tuning.json stores (what was asked for; `names` is what it selected). */
function specFromJson(json: Record<string, unknown> | undefined, names: readonly string[]): SelectiveSpec {
  if (json?.kind === 'bias') return { kind: 'bias' };
  if (json?.kind === 'layernorm') return { kind: 'layernorm', ...(Array.isArray(json.target_modules) ? { targetModules: json.target_modules as string[] } : {}) };
  if (json?.kind === 'named' && Array.isArray(json.patterns)) return { kind: 'named', patterns: json.patterns as string[] };
  return { kind: 'named', patterns: names };
}

/** adapter_config.json of a peft LN tuning adapter. */
export function lnTuningConfigJson(targetModules: readonly string[], baseModel: string): Record<string, unknown> {
  return {
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    exclude_modules: null,
    inference_mode: true,
    modules_to_save: null,
    peft_type: 'LN_TUNING',
    revision: null,
    target_modules: [...targetModules],
    task_type: 'CAUSAL_LM',
  };
}

/** Reads the tensors of a safetensors file as float32. */
function readAll(path: string): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    return new Map([...file.entries.keys()].map((name) => [name, file.read(name, 'f32')] as const));
  } finally {
    file.close();
  }
}

/**
 * peft's LNTuningConfig fields (0.11 to 0.17): target_modules and exclude_modules only chose which
 * LayerNorms were tuned, which the saved tensors already say, so both are accepted; modules_to_save
 * would replace further modules whole and is refused unless null.
 */
export const LN_TUNING_CONFIG_FIELDS: Readonly<Record<string, ConfigFieldRule>> = {
  ...PEFT_CONFIG_FIELDS,
  target_modules: ACCEPTED,
  exclude_modules: ACCEPTED,
  modules_to_save: { kind: 'refused', since: '0.11', what: 'modules_to_save with LN tuning (whole modules replaced beside the LayerNorms)', inert: isInertValue },
};

/** Loads a peft LN_TUNING adapter (already read as adapter files) into `model`. */
export function applyLnTuningAdapter(model: BloomModel, dir: string, config: Record<string, unknown>, tensors: ReadonlyMap<string, Tensor>): SelectiveTuning {
  checkConfigFields({ dir, config }, 'LNTuningConfig', LN_TUNING_CONFIG_FIELDS);
  const weightsPath = join(dir, 'adapter_model.safetensors');
  const values = new Map<string, Tensor>();
  for (const [name, tensor] of tensors) {
    const match = LN_TUNING_NAME.exec(name);
    if (!match) throw new AdapterError(weightsPath, 'is not an LN tuning tensor (expected base_model.model.<module>.ln_tuning_layers.weight|bias)', { tensor: name });
    const checkpointName = `${match[1]}.${match[2]}`;
    if (!tunableTensorNames(model.config).includes(checkpointName)) throw new AdapterError(weightsPath, 'names no LayerNorm of this base model: the adapter was made for another base model', { tensor: name });
    values.set(checkpointName, tensor);
  }
  const targets = Array.isArray(config.target_modules) ? (config.target_modules as string[]) : undefined;
  const tuning = new SelectiveTuning(model, { kind: 'layernorm', targetModules: targets }, [...values.keys()]);
  tuning.load(values, weightsPath, lnTuningName);
  return tuning;
}

/** Whether `dir` holds tuneloop's selective-tuning files. */
export function isSelectiveTuningDir(dir: string): boolean {
  return existsSync(join(dir, SELECTIVE_CONFIG_FILE)) && !existsSync(join(dir, ADAPTER_CONFIG_FILE));
}

/** Loads tuneloop's bias or named-tensor tuning files into `model`. */
export function applySelectiveTuning(model: BloomModel, dir: string): SelectiveTuning {
  const configPath = join(dir, SELECTIVE_CONFIG_FILE);
  let config: { spec?: Record<string, unknown>; tensors?: unknown };
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as typeof config;
  } catch (cause) {
    throw new AdapterError(configPath, `not valid JSON (${(cause as Error).message})`, {}, { cause });
  }
  if (!Array.isArray(config.tensors) || !config.tensors.every((t) => typeof t === 'string')) throw new AdapterError(configPath, 'must list the tuned tensor names', { field: 'tensors' });
  const names = config.tensors as string[];
  const known = new Set(tunableTensorNames(model.config));
  for (const name of names) if (!known.has(name)) throw new AdapterError(configPath, `"${name}" is no tunable tensor of this base model: the adapter was made for another base model`, { field: 'tensors' });
  const weightsPath = join(dir, SELECTIVE_WEIGHTS_FILE);
  if (!existsSync(weightsPath)) throw new AdapterError(weightsPath, 'missing');
  const values = readAll(weightsPath);
  for (const name of names) if (!values.has(name)) throw new AdapterError(weightsPath, 'is missing', { tensor: name });
  const tuning = new SelectiveTuning(model, specFromJson(config.spec, names), names);
  tuning.load(values, weightsPath);
  return tuning;
}
