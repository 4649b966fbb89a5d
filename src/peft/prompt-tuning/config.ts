import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import { ACCEPTED, ADAPTER_CONFIG_FILE, type AdapterFiles, checkConfigFields, type ConfigFieldRule, configField, isInertValue, isPositiveInteger, PEFT_CONFIG_FIELDS } from '../adapter-files.js';

export type PromptTuningInit = 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB';

/** peft's PromptTuningConfig, the fields tuneloop acts on. */
export interface PromptTuningConfig {
  readonly numVirtualTokens: number;
  readonly tokenDim: number;
  readonly init: PromptTuningInit;
  readonly initText: string | null;
}

/**
 * peft's PromptTuningConfig fields (0.7 to 0.17) and what tuneloop does with them: num_virtual_tokens,
 * token_dim, num_transformer_submodules, prompt_tuning_init(_text) are read; num_attention_heads,
 * num_layers, tokenizer_name_or_path and tokenizer_kwargs are metadata (the text initialisation's
 * tokenizer, used only when the prompt is created); modules_to_save (PromptLearningConfig, 0.17) would
 * replace whole modules and is refused unless null.
 */
export const PROMPT_TUNING_CONFIG_FIELDS: Readonly<Record<string, ConfigFieldRule>> = {
  ...PEFT_CONFIG_FIELDS,
  num_virtual_tokens: ACCEPTED,
  token_dim: ACCEPTED,
  num_transformer_submodules: ACCEPTED,
  num_attention_heads: ACCEPTED,
  num_layers: ACCEPTED,
  prompt_tuning_init: ACCEPTED,
  prompt_tuning_init_text: ACCEPTED,
  tokenizer_name_or_path: ACCEPTED,
  tokenizer_kwargs: ACCEPTED,
  modules_to_save: { kind: 'refused', since: '0.17', what: 'modules_to_save with prompt tuning (whole modules replaced beside the soft prompt)', inert: isInertValue },
};

export function parsePromptTuningConfig(files: Pick<AdapterFiles, 'dir' | 'config'>): PromptTuningConfig {
  checkConfigFields(files, 'PromptTuningConfig', PROMPT_TUNING_CONFIG_FIELDS);
  const numVirtualTokens = configField(files, 'num_virtual_tokens', isPositiveInteger, 'a positive integer');
  const tokenDim = configField(files, 'token_dim', isPositiveInteger, 'a positive integer');
  const init = files.config.prompt_tuning_init ?? 'RANDOM';
  if (init !== 'RANDOM' && init !== 'TEXT' && init !== 'SAMPLE_VOCAB') {
    throw new AdapterError(join(files.dir, ADAPTER_CONFIG_FILE), `must be RANDOM, TEXT or SAMPLE_VOCAB, got ${JSON.stringify(init)}`, { field: 'prompt_tuning_init' });
  }
  const initText = files.config.prompt_tuning_init_text ?? null;
  if (initText !== null && typeof initText !== 'string') {
    throw new AdapterError(join(files.dir, ADAPTER_CONFIG_FILE), 'must be a string or null', { field: 'prompt_tuning_init_text' });
  }
  if ((files.config.num_transformer_submodules ?? 1) !== 1) {
    throw new AdapterError(join(files.dir, ADAPTER_CONFIG_FILE), 'must be 1 for a decoder-only model', { field: 'num_transformer_submodules' });
  }
  return { numVirtualTokens, tokenDim, init, initText };
}

/** adapter_config.json for a new prompt-tuning adapter, with peft 0.7's field set. */
export function promptTuningConfigJson(config: PromptTuningConfig, base: { name: string; numLayers: number; numHeads: number }): Record<string, unknown> {
  return {
    auto_mapping: null,
    base_model_name_or_path: base.name,
    inference_mode: true,
    num_attention_heads: base.numHeads,
    num_layers: base.numLayers,
    num_transformer_submodules: 1,
    num_virtual_tokens: config.numVirtualTokens,
    peft_type: 'PROMPT_TUNING',
    prompt_tuning_init: config.init,
    prompt_tuning_init_text: config.initText,
    revision: null,
    task_type: 'CAUSAL_LM',
    token_dim: config.tokenDim,
    tokenizer_kwargs: null,
    tokenizer_name_or_path: null,
  };
}
