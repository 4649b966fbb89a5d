import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import { ADAPTER_CONFIG_FILE, type AdapterFiles, configField, isPositiveInteger } from '../adapter-files.js';

export type PromptTuningInit = 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB';

/** peft's PromptTuningConfig, the fields tuneloop acts on. */
export interface PromptTuningConfig {
  readonly numVirtualTokens: number;
  readonly tokenDim: number;
  readonly init: PromptTuningInit;
  readonly initText: string | null;
}

export function parsePromptTuningConfig(files: Pick<AdapterFiles, 'dir' | 'config'>): PromptTuningConfig {
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
