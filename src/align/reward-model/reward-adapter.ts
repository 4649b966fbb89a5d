/**
 * A reward model's adapter in peft 0.7.1's SEQ_CLS layout: the LoRA tensors plus the score head as
 * `base_model.model.score.weight` in adapter_model.safetensors. peft 0.7.1 writes `"modules_to_save": null`
 * in adapter_config.json for such a model yet saves the head, so the head is read from the tensors.
 */
import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import type { BloomConfig } from '../../models/bloom/config.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, readAdapterFiles, writeAdapterFiles } from '../../peft/adapter-files.js';
import { loraConfigJson } from '../../peft/lora/config.js';
import { readLoraAdapter } from '../../peft/lora/model.js';
import { SCORE_WEIGHT_NAME, type RewardModelTrainables } from './training-step.js';

export function saveRewardAdapter(dir: string, trainables: RewardModelTrainables, baseModel: string): void {
  const { lora, scoreWeight } = trainables;
  const config = { ...(lora.configJson ?? loraConfigJson(lora.config, baseModel)), task_type: 'SEQ_CLS' };
  const tensors = lora.tensors();
  tensors.set(SCORE_WEIGHT_NAME, { dtype: 'f32', shape: [1, scoreWeight.length], data: scoreWeight });
  writeAdapterFiles(dir, config, tensors);
}

export function readRewardAdapter(dir: string, modelConfig: BloomConfig): RewardModelTrainables {
  const files = readAdapterFiles(dir);
  if (files.config.task_type !== 'SEQ_CLS') {
    throw new AdapterError(join(dir, ADAPTER_CONFIG_FILE), `is a ${JSON.stringify(files.config.task_type)} adapter, not a reward model (SEQ_CLS)`, { field: 'task_type' });
  }
  const head = files.tensors.get(SCORE_WEIGHT_NAME);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!head) throw new AdapterError(weightsPath, 'is missing: a reward adapter must hold its score head', { tensor: SCORE_WEIGHT_NAME });
  if (head.shape.length !== 2 || head.shape[0] !== 1 || head.shape[1] !== modelConfig.hiddenSize) {
    throw new AdapterError(weightsPath, `shape [${head.shape.join(', ')}] does not fit the base model: expected [1, ${modelConfig.hiddenSize}] (one reward, hidden ${modelConfig.hiddenSize})`, { tensor: SCORE_WEIGHT_NAME });
  }
  return { lora: readLoraAdapter(dir, modelConfig), scoreWeight: Float32Array.from(head.data as Float32Array) };
}
