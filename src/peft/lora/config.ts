import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import type { BlockLinearName } from '../../models/bloom/model.js';
import {
  ACCEPTED,
  ADAPTER_CONFIG_FILE,
  type AdapterFiles,
  checkConfigFields,
  type ConfigFieldRule,
  configField,
  isBoolean,
  isInertValue,
  isNonNegativeNumber,
  isPositiveInteger,
  PEFT_CONFIG_FIELDS,
} from '../adapter-files.js';

export const BLOCK_LINEAR_NAMES: readonly BlockLinearName[] = ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'];

/** peft's LoraConfig, the fields tuneloop acts on. */
export interface LoraConfig {
  readonly r: number;
  readonly loraAlpha: number;
  readonly loraDropout: number;
  /** Module names, or one regular expression over the full module path as peft accepts. */
  readonly targetModules: readonly string[] | string;
  /** rsLoRA: scale by alpha/√r instead of alpha/r. */
  readonly useRslora: boolean;
  /** DoRA (peft 0.9+): a learned magnitude per output row on top of the LoRA update. Absent: false. */
  readonly useDora?: boolean;
  /**
   * peft's modules_to_save: modules (matched as suffixes of their path, e.g. `lm_head`,
   * `word_embeddings`, `input_layernorm`) whose tensors the adapter replaces whole and trains fully.
   * Absent: none.
   */
  readonly modulesToSave?: readonly string[];
  /** Only these block indices get LoRA layers (peft's layers_to_transform); all when absent. */
  readonly layersToTransform?: readonly number[];
  /** Modules never targeted (peft 0.14's exclude_modules): names matched as suffixes, or one full-match regex. */
  readonly excludeModules?: readonly string[] | string;
}

/**
 * What tuneloop does with each field of peft's LoraConfig as peft 0.7.0 to 0.17.1 save it (fields
 * from PeftConfig are in PEFT_CONFIG_FIELDS). Fields not listed and not at an inert value are refused.
 *
 * | field | since | treatment |
 * |---|---|---|
 * | r, lora_alpha, target_modules | 0.7 | implemented |
 * | lora_dropout | 0.7 | implemented (training only) |
 * | use_rslora | 0.8 | implemented: scaling alpha/√r |
 * | use_dora | 0.9 | parsed to `useDora`; the DoRA math lives in layer.ts / model.ts |
 * | modules_to_save | 0.7 | implemented for lm_head, word_embeddings and LayerNorms (inference, merge, training); block linears refused |
 * | layers_to_transform | 0.7 | implemented (which blocks are targeted) |
 * | layers_pattern | 0.7 | accepted when null or "h" (BLOOM's block list); anything else refused |
 * | exclude_modules | 0.14 | implemented (which modules are not targeted) |
 * | init_lora_weights | 0.7 | true, false, "gaussian", "eva" (0.14), "orthogonal" (0.17): initialisation only, accepted. "loftq" (0.7), "pissa…" (0.11), "olora" (0.12), "corda" (0.15): peft rewrites the BASE weights at initialisation, so an adapter saved with these values (not converted with path_initial_model_for_weight_conversion, which saves `true`) belongs to a modified base: refused |
 * | loftq_config, eva_config, corda_config | 0.7, 0.14, 0.15 | accepted: settings of the initialisations above |
 * | megatron_config, megatron_core | 0.7 | accepted: only used for Megatron parallel linears, which BLOOM has none of |
 * | runtime_config | 0.12 | accepted: GPU offload at load time, not saved by peft |
 * | qalora_group_size | 0.16 | accepted: used only with use_qalora |
 * | fan_in_fan_out | 0.7 | false only (BLOOM's linears are [out, in]) |
 * | bias | 0.7 | "none" only: "all"/"lora_only" train the base biases |
 * | rank_pattern, alpha_pattern | 0.7 | empty only: per-module ranks and alphas |
 * | layer_replication | 0.10 | refused: duplicates base layers |
 * | lora_bias | 0.14 | refused: a bias on lora_B |
 * | trainable_token_indices | 0.15 | refused: trains single embedding rows |
 * | use_qalora | 0.16 | refused: QALoRA's pooled adapter input |
 * | target_parameters | 0.17 | refused: LoRA on raw parameters |
 */
export const LORA_CONFIG_FIELDS: Readonly<Record<string, ConfigFieldRule>> = {
  ...PEFT_CONFIG_FIELDS,
  r: ACCEPTED,
  lora_alpha: ACCEPTED,
  lora_dropout: ACCEPTED,
  target_modules: ACCEPTED,
  use_rslora: ACCEPTED,
  use_dora: ACCEPTED,
  modules_to_save: ACCEPTED,
  layers_to_transform: ACCEPTED,
  layers_pattern: ACCEPTED,
  exclude_modules: ACCEPTED,
  init_lora_weights: ACCEPTED,
  loftq_config: ACCEPTED,
  eva_config: ACCEPTED,
  corda_config: ACCEPTED,
  megatron_config: ACCEPTED,
  megatron_core: ACCEPTED,
  runtime_config: ACCEPTED,
  qalora_group_size: ACCEPTED,
  fan_in_fan_out: { kind: 'refused', since: '0.7', what: 'fan_in_fan_out true (weights stored [in, out]); BLOOM\'s linears are [out, in] and it must be false', inert: (v) => v === undefined || v === null || v === false },
  bias: { kind: 'refused', since: '0.7', what: 'training the base biases ("all" or "lora_only"); only "none"', inert: (v) => v === undefined || v === null || v === 'none' },
  rank_pattern: { kind: 'refused', since: '0.7', what: 'per-module ranks; it must be empty', inert: isInertValue },
  alpha_pattern: { kind: 'refused', since: '0.7', what: 'per-module alphas; it must be empty', inert: isInertValue },
  layer_replication: { kind: 'refused', since: '0.10', what: 'layer replication (base layers stacked again)', inert: isInertValue },
  lora_bias: { kind: 'refused', since: '0.14', what: 'a bias on lora_B (lora_bias)', inert: isInertValue },
  trainable_token_indices: { kind: 'refused', since: '0.15', what: 'trainable token embeddings (trainable_token_indices)', inert: isInertValue },
  use_qalora: { kind: 'refused', since: '0.16', what: 'QALoRA (use_qalora)', inert: isInertValue },
  target_parameters: { kind: 'refused', since: '0.17', what: 'LoRA on parameters (target_parameters)', inert: isInertValue },
};

/** init_lora_weights values after which the base weights are no longer the published ones, and the peft release that added each. */
const BASE_MUTATING_INITS: readonly { readonly matches: (value: string) => boolean; readonly name: string; readonly since: string }[] = [
  { matches: (v) => v === 'loftq', name: 'LoftQ', since: '0.7' },
  { matches: (v) => v.toLowerCase().startsWith('pissa'), name: 'PiSSA', since: '0.11' },
  { matches: (v) => v.toLowerCase() === 'olora', name: 'OLoRA', since: '0.12' },
  { matches: (v) => v.toLowerCase() === 'corda', name: 'CorDA', since: '0.15' },
];
const BASE_PRESERVING_INITS = ['gaussian', 'eva', 'orthogonal'];

export function loraScaling(config: LoraConfig): number {
  return config.useRslora ? config.loraAlpha / Math.sqrt(config.r) : config.loraAlpha / config.r;
}

/** peft's module path of a BLOOM block linear, as target_modules patterns see it. */
export function modulePath(layer: number, module: BlockLinearName): string {
  const parent = module === 'query_key_value' || module === 'dense' ? 'self_attention' : 'mlp';
  return `transformer.h.${layer}.${parent}.${module}`;
}

/** Whether peft's module selector (names matched as suffixes, or one full-match regex) picks `path`. */
function selects(selector: readonly string[] | string, path: string): boolean {
  if (typeof selector === 'string') return new RegExp(`^(?:${selector})$`).test(path);
  return selector.some((name) => path === name || path.endsWith(`.${name}`));
}

/**
 * Whether a LoRA config targets this block linear: target_modules picks it, layers_to_transform (when
 * given) holds its block, and exclude_modules does not pick it.
 */
export function targetsModule(config: LoraConfig, layer: number, module: BlockLinearName): boolean {
  const path = modulePath(layer, module);
  if (!selects(config.targetModules, path)) return false;
  if (config.layersToTransform && !config.layersToTransform.includes(layer)) return false;
  return !(config.excludeModules && selects(config.excludeModules, path));
}

const isModuleSelector = (v: unknown): v is string[] | string => typeof v === 'string' || (Array.isArray(v) && v.every((t) => typeof t === 'string'));

export function parseLoraConfig(files: Pick<AdapterFiles, 'dir' | 'config'>): LoraConfig {
  const file = join(files.dir, ADAPTER_CONFIG_FILE);
  checkConfigFields(files, 'LoraConfig', LORA_CONFIG_FIELDS);
  const r = configField(files, 'r', isPositiveInteger, 'a positive integer');
  const loraAlpha = configField(files, 'lora_alpha', isNonNegativeNumber, 'a non-negative number', 8);
  const loraDropout = configField(files, 'lora_dropout', (v): v is number => isNonNegativeNumber(v) && v < 1, 'a number in [0, 1)', 0);
  const useRslora = configField(files, 'use_rslora', isBoolean, 'true or false', false);
  const useDora = configField(files, 'use_dora', isBoolean, 'true or false', false);
  const targets = files.config.target_modules ?? ['query_key_value'];
  if (!(isModuleSelector(targets) && targets.length > 0)) {
    throw new AdapterError(file, `must be a list of module names or a regular expression, got ${JSON.stringify(targets)}`, { field: 'target_modules' });
  }
  if (Array.isArray(targets)) {
    const unknown = targets.filter((t) => !BLOCK_LINEAR_NAMES.some((name) => t === name || t.endsWith(`.${name}`)));
    if (unknown.length > 0) throw new AdapterError(file, `names no BLOOM linear layer: ${unknown.join(', ')} (BLOOM has ${BLOCK_LINEAR_NAMES.join(', ')})`, { field: 'target_modules' });
  }
  const excludeModules = files.config.exclude_modules ?? undefined;
  if (excludeModules !== undefined && !isModuleSelector(excludeModules)) {
    throw new AdapterError(file, `must be a list of module names or a regular expression, got ${JSON.stringify(excludeModules)}`, { field: 'exclude_modules' });
  }
  const layers = files.config.layers_to_transform ?? undefined;
  const layersToTransform = layers === undefined ? undefined : Array.isArray(layers) ? layers : [layers];
  if (layersToTransform && !layersToTransform.every((l) => Number.isSafeInteger(l) && (l as number) >= 0)) {
    throw new AdapterError(file, `must be a block index or a list of them, got ${JSON.stringify(layers)}`, { field: 'layers_to_transform' });
  }
  const pattern = files.config.layers_pattern ?? null;
  if (!(pattern === null || pattern === 'h' || (Array.isArray(pattern) && (pattern.length === 0 || (pattern.length === 1 && pattern[0] === 'h'))))) {
    throw new AdapterError(file, `must be null or "h" (BLOOM's blocks are transformer.h), got ${JSON.stringify(pattern)}`, { field: 'layers_pattern' });
  }
  const modules = files.config.modules_to_save ?? [];
  if (!(Array.isArray(modules) && modules.every((m) => typeof m === 'string' && m.length > 0))) {
    throw new AdapterError(file, `must be null or a list of module names, got ${JSON.stringify(modules)}`, { field: 'modules_to_save' });
  }
  checkInitLoraWeights(file, files.config.init_lora_weights);
  return {
    r,
    loraAlpha,
    loraDropout,
    targetModules: targets,
    useRslora,
    useDora,
    modulesToSave: modules as string[],
    ...(layersToTransform ? { layersToTransform: layersToTransform as number[] } : {}),
    ...(excludeModules !== undefined ? { excludeModules } : {}),
  };
}

/** Refuses an initialisation that rewrote the base weights (see LORA_CONFIG_FIELDS). */
function checkInitLoraWeights(file: string, value: unknown): void {
  if (value === undefined || value === null || typeof value === 'boolean') return;
  if (typeof value === 'string') {
    const mutating = BASE_MUTATING_INITS.find((init) => init.matches(value));
    if (mutating) {
      throw new AdapterError(
        file,
        `is ${JSON.stringify(value)}: ${mutating.name} (added in peft ${mutating.since}) rewrites the base model's weights when the adapter is created, so this adapter only fits that modified base; ` +
          'convert it with save_pretrained(path_initial_model_for_weight_conversion=...) first, which saves init_lora_weights true',
        { field: 'init_lora_weights' },
      );
    }
    if (BASE_PRESERVING_INITS.includes(value.toLowerCase())) return;
  }
  throw new AdapterError(file, `must be true, false, or one of ${BASE_PRESERVING_INITS.join(', ')}, got ${JSON.stringify(value)}`, { field: 'init_lora_weights' });
}

/** adapter_config.json for a new LoRA adapter, with peft 0.7's field set. */
export function loraConfigJson(config: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: config.modulesToSave?.length ? [...config.modulesToSave] : null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: config.targetModules,
    task_type: 'CAUSAL_LM',
    ...(config.useRslora ? { use_rslora: true } : {}),
    ...(config.useDora ? { use_dora: true } : {}),
  };
}
