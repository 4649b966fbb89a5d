import { join } from 'node:path';
import type { Backend } from '../../engine/backend.js';
import type { Tensor } from '../../engine/tensor.js';
import { AdapterError } from '../../errors.js';
import type { BloomConfig } from '../../models/bloom/config.js';
import type { KvCache } from '../../models/bloom/kv-cache.js';
import type { BloomModel, ForwardInput, ForwardOutput } from '../../models/bloom/model.js';
import type { CausalLM } from '../../models/causal-lm.js';
import { ADAPTER_WEIGHTS_FILE, readAdapterFiles, writeAdapterFiles } from '../adapter-files.js';
import { type PromptTuningConfig, parsePromptTuningConfig, promptTuningConfigJson } from './config.js';

/** One task's soft prompt: `numVirtualTokens` embeddings `[n, hidden]` put before every input. */
export class PromptTuningAdapter {
  constructor(
    readonly config: PromptTuningConfig,
    /** `[numVirtualTokens, tokenDim]` */
    readonly promptEmbeddings: Float32Array,
    readonly configJson?: Record<string, unknown>,
  ) {}

  save(dir: string, base: { name: string; numLayers: number; numHeads: number }, extraFiles?: ReadonlyMap<string, string>): void {
    const tensors = new Map<string, Tensor>([['prompt_embeddings', { dtype: 'f32', shape: [this.config.numVirtualTokens, this.config.tokenDim], data: this.promptEmbeddings }]]);
    writeAdapterFiles(dir, this.configJson ?? promptTuningConfigJson(this.config, base), tensors, extraFiles);
  }
}

export function readPromptTuningAdapter(dir: string, modelConfig: BloomConfig): PromptTuningAdapter {
  const files = readAdapterFiles(dir);
  const configPath = join(dir, 'adapter_config.json');
  if (files.config.peft_type !== 'PROMPT_TUNING') throw new AdapterError(configPath, `is a ${JSON.stringify(files.config.peft_type)} adapter, not PROMPT_TUNING`, { field: 'peft_type' });
  const config = parsePromptTuningConfig(files);
  if (config.tokenDim !== modelConfig.hiddenSize) {
    throw new AdapterError(configPath, `is ${config.tokenDim} but the base model's hidden size is ${modelConfig.hiddenSize} (adapter trained for another model?)`, { field: 'token_dim' });
  }
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  const tensor = files.tensors.get('prompt_embeddings');
  if (!tensor) throw new AdapterError(weightsPath, 'is missing', { tensor: 'prompt_embeddings' });
  if (tensor.shape[0] !== config.numVirtualTokens || tensor.shape[1] !== config.tokenDim) {
    throw new AdapterError(weightsPath, `shape [${tensor.shape.join(', ')}] does not match num_virtual_tokens ${config.numVirtualTokens} x token_dim ${config.tokenDim}`, { tensor: 'prompt_embeddings' });
  }
  return new PromptTuningAdapter(config, tensor.data as Float32Array, files.config);
}

/**
 * A BLOOM model with a soft prompt, as peft's PeftModelForCausalLM: inputs_embeds =
 * [prompt_embeddings; word_embeddings(ids)] and the mask gains as many leading ones. The virtual
 * tokens then pass through word_embeddings_layernorm like any input. Callers see only their own
 * positions; the KV cache holds the virtual ones too.
 */
export class PromptTunedModel implements CausalLM {
  readonly config: BloomConfig;
  readonly backend: Backend;

  constructor(
    readonly base: BloomModel,
    readonly adapter: PromptTuningAdapter,
  ) {
    this.config = base.config;
    this.backend = base.backend;
  }

  get virtualTokens(): number {
    return this.adapter.config.numVirtualTokens;
  }

  createCache(batch: number, capacity: number): KvCache {
    return this.base.createCache(batch, capacity + this.virtualTokens);
  }

  logits(hidden: Float32Array, rows: number): Float32Array {
    return this.base.logits(hidden, rows);
  }

  forward(input: ForwardInput): ForwardOutput {
    const prefilling = !input.cache || input.cache.length === 0;
    const { hidden } = this.forwardWithVirtualTokens(input);
    if (!prefilling) return { hidden };
    // Drop the virtual positions: the caller asked about its own tokens only.
    const h = this.config.hiddenSize;
    const total = hidden.length / (input.batch * h);
    const own = total - this.virtualTokens;
    const out = new Float32Array(input.batch * own * h);
    for (let b = 0; b < input.batch; b++) out.set(hidden.subarray((b * total + this.virtualTokens) * h, (b + 1) * total * h), b * own * h);
    return { hidden: out };
  }

  /**
   * The forward with the virtual positions kept in the output (`[batch, n + T, hidden]` when the
   * cache is empty), as peft's logits include them.
   */
  forwardWithVirtualTokens(input: ForwardInput): ForwardOutput {
    const { batch, ids, cache } = input;
    const n = this.virtualTokens;
    const h = this.config.hiddenSize;
    const prefilling = !cache || cache.length === 0;
    // The caller's mask covers its own positions; the model's covers the virtual ones too.
    const callerWidth = input.mask.length / batch;
    const mask = new Uint8Array(batch * (callerWidth + n));
    for (let b = 0; b < batch; b++) {
      mask.fill(1, b * (callerWidth + n), b * (callerWidth + n) + n);
      mask.set(input.mask.subarray(b * callerWidth, (b + 1) * callerWidth), b * (callerWidth + n) + n);
    }
    const tokens = this.base.embed(ids);
    if (!prefilling) return this.base.forwardEmbeddings(tokens, { batch, mask, cache });
    const queryLen = ids.length / batch;
    const embeddings = new Float32Array(batch * (n + queryLen) * h);
    for (let b = 0; b < batch; b++) {
      embeddings.set(this.adapter.promptEmbeddings, b * (n + queryLen) * h);
      embeddings.set(tokens.subarray(b * queryLen * h, (b + 1) * queryLen * h), (b * (n + queryLen) + n) * h);
    }
    return this.base.forwardEmbeddings(embeddings, { batch, mask, cache, collectHiddenStates: input.collectHiddenStates });
  }
}

/**
 * A new soft prompt, initialised as peft does: RANDOM draws N(0, 1) (torch.nn.Embedding's default);
 * TEXT takes the word embeddings of `initText`'s tokens, repeated to fill and cut to length; SAMPLE_VOCAB
 * takes the word embeddings of tokens drawn uniformly from the vocabulary.
 */
export function createPromptTuningAdapter(
  model: BloomModel,
  config: PromptTuningConfig,
  options: { random: () => number; encode?: (text: string) => number[] },
): PromptTuningAdapter {
  const { numVirtualTokens: n } = config;
  const h = model.config.hiddenSize;
  if (config.tokenDim !== h) throw new AdapterError('prompt tuning config', `token_dim ${config.tokenDim} differs from the model's hidden size ${h}`, { field: 'token_dim' });
  if (config.init === 'RANDOM') {
    const values = new Float32Array(n * h);
    for (let i = 0; i < values.length; i++) {
      const u = 1 - options.random();
      values[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * options.random());
    }
    return new PromptTuningAdapter(config, values);
  }
  let ids: number[];
  if (config.init === 'TEXT') {
    if (!config.initText || !options.encode) throw new AdapterError('prompt tuning config', 'TEXT initialisation needs prompt_tuning_init_text and a tokenizer', { field: 'prompt_tuning_init_text' });
    const textIds = options.encode(config.initText);
    if (textIds.length === 0) throw new AdapterError('prompt tuning config', 'the init text tokenizes to no tokens', { field: 'prompt_tuning_init_text' });
    ids = Array.from({ length: n }, (_, i) => textIds[i % textIds.length]);
  } else {
    ids = Array.from({ length: n }, () => Math.floor(options.random() * model.config.vocabSize));
  }
  return new PromptTuningAdapter(config, model.embed(Int32Array.from(ids)));
}
