import { join } from 'node:path';
import { AdapterError } from '../errors.js';
import type { BloomModel } from '../models/bloom/model.js';
import type { CausalLM } from '../models/causal-lm.js';
import { readAdapterFiles } from './adapter-files.js';
import { checkBaseModelRecord } from './base-model-record.js';
import { LoraModel, readLoraAdapter } from './lora/model.js';
import { PromptTunedModel, readPromptTuningAdapter } from './prompt-tuning/model.js';
import { applyLnTuningAdapter, applySelectiveTuning, isSelectiveTuningDir } from './selective/model.js';

/** The PEFT methods an adapter directory may hold, by adapter_config.json's peft_type. */
export const SUPPORTED_PEFT_TYPES = ['LORA', 'PROMPT_TUNING', 'LN_TUNING'] as const;

/**
 * Loads an adapter directory onto a model and returns the model to run: a peft adapter (LoRA, prompt
 * tuning, LN tuning), or tuneloop's selective-tuning files (bias or named-tensor tuning). LN and
 * selective tuning overwrite the tuned tensors of this loaded model in place.
 */
export function applyAdapter(model: BloomModel, dir: string): CausalLM {
  checkBaseModelRecord(dir, model);
  if (isSelectiveTuningDir(dir)) {
    applySelectiveTuning(model, dir);
    return model;
  }
  const files = readAdapterFiles(dir);
  switch (files.config.peft_type) {
    case 'LORA': {
      new LoraModel(model).add(readLoraAdapter(dir, model.config));
      return model;
    }
    case 'PROMPT_TUNING':
      return new PromptTunedModel(model, readPromptTuningAdapter(dir, model.config));
    case 'LN_TUNING':
      applyLnTuningAdapter(model, dir, files.config, files.tensors);
      return model;
    default:
      throw new AdapterError(join(dir, 'adapter_config.json'), `${JSON.stringify(files.config.peft_type)} is not supported (supported: ${SUPPORTED_PEFT_TYPES.join(', ')})`, { field: 'peft_type' });
  }
}
