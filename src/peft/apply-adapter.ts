import { join } from 'node:path';
import { AdapterError } from '../errors.js';
import type { BloomModel } from '../models/bloom/model.js';
import type { CausalLM } from '../models/causal-lm.js';
import { readAdapterFiles } from './adapter-files.js';
import { LoraModel, readLoraAdapter } from './lora/model.js';
import { PromptTunedModel, readPromptTuningAdapter } from './prompt-tuning/model.js';

/** The PEFT methods an adapter directory may hold, by adapter_config.json's peft_type. */
export const SUPPORTED_PEFT_TYPES = ['LORA', 'PROMPT_TUNING'] as const;

/** Loads a peft adapter directory onto a model and returns the model to run (LoRA or prompt tuning). */
export function applyAdapter(model: BloomModel, dir: string): CausalLM {
  const { config } = readAdapterFiles(dir);
  switch (config.peft_type) {
    case 'LORA': {
      new LoraModel(model).add(readLoraAdapter(dir, model.config));
      return model;
    }
    case 'PROMPT_TUNING':
      return new PromptTunedModel(model, readPromptTuningAdapter(dir, model.config));
    default:
      throw new AdapterError(join(dir, 'adapter_config.json'), `${JSON.stringify(config.peft_type)} is not supported (supported: ${SUPPORTED_PEFT_TYPES.join(', ')})`, { field: 'peft_type' });
  }
}
