import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import type { BlockLinearName } from '../../models/bloom/model.js';
import { ADAPTER_CONFIG_FILE, type AdapterFiles, configField, isBoolean, isNonNegativeNumber, isPositiveInteger } from '../adapter-files.js';

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
  /** DoRA: a trained magnitude per output row rescales the adapted weight (absent means false). */
  readonly useDora?: boolean;
}

export function loraScaling(config: LoraConfig): number {
  return config.useRslora ? config.loraAlpha / Math.sqrt(config.r) : config.loraAlpha / config.r;
}

/** peft's module path of a BLOOM block linear, as target_modules patterns see it. */
export function modulePath(layer: number, module: BlockLinearName): string {
  const parent = module === 'query_key_value' || module === 'dense' ? 'self_attention' : 'mlp';
  return `transformer.h.${layer}.${parent}.${module}`;
}

/** Whether a LoRA config targets this block linear (by name suffix, or by full-match regex as peft). */
export function targetsModule(config: LoraConfig, layer: number, module: BlockLinearName): boolean {
  const path = modulePath(layer, module);
  if (typeof config.targetModules === 'string') return new RegExp(`^(?:${config.targetModules})$`).test(path);
  return config.targetModules.some((name) => path === name || path.endsWith(`.${name}`));
}

export function parseLoraConfig(files: Pick<AdapterFiles, 'dir' | 'config'>): LoraConfig {
  const file = join(files.dir, ADAPTER_CONFIG_FILE);
  const r = configField(files, 'r', isPositiveInteger, 'a positive integer');
  const loraAlpha = configField(files, 'lora_alpha', isNonNegativeNumber, 'a non-negative number', 8);
  const loraDropout = configField(files, 'lora_dropout', (v): v is number => isNonNegativeNumber(v) && v < 1, 'a number in [0, 1)', 0);
  const useRslora = configField(files, 'use_rslora', isBoolean, 'true or false', false);
  const useDora = configField(files, 'use_dora', isBoolean, 'true or false', false);
  const targets = files.config.target_modules ?? ['query_key_value'];
  if (!(typeof targets === 'string' || (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === 'string')))) {
    throw new AdapterError(file, `must be a list of module names or a regular expression, got ${JSON.stringify(targets)}`, { field: 'target_modules' });
  }
  if (Array.isArray(targets)) {
    const unknown = targets.filter((t) => !BLOCK_LINEAR_NAMES.some((name) => t === name || t.endsWith(`.${name}`)));
    if (unknown.length > 0) throw new AdapterError(file, `names no BLOOM linear layer: ${unknown.join(', ')} (BLOOM has ${BLOCK_LINEAR_NAMES.join(', ')})`, { field: 'target_modules' });
  }
  for (const field of ['rank_pattern', 'alpha_pattern'] as const) {
    const pattern = files.config[field];
    if (pattern !== undefined && pattern !== null && (typeof pattern !== 'object' || Object.keys(pattern).length > 0)) {
      throw new AdapterError(file, 'per-module ranks and alphas are not supported yet; it must be empty', { field });
    }
  }
  if (files.config.bias !== undefined && files.config.bias !== 'none') {
    throw new AdapterError(file, `only "none" is supported, got ${JSON.stringify(files.config.bias)}`, { field: 'bias' });
  }
  if (files.config.fan_in_fan_out === true) throw new AdapterError(file, 'must be false for BLOOM (its linears are [out, in])', { field: 'fan_in_fan_out' });
  return { r, loraAlpha, loraDropout, targetModules: targets as string[] | string, useRslora, useDora };
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
    modules_to_save: null,
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
