import type { AttentionArgs } from '../engine/backend.js';
import { InvalidInputError } from '../errors.js';
import { SeededRandom } from '../inference/sampling.js';
import type { BloomModel, BlockLinearName } from '../models/bloom/model.js';
import type { BloomWeights, LayerNormParams, LinearParams } from '../models/bloom/weights.js';
import { modulePath } from '../peft/lora/config.js';
import type { LoraLayer } from '../peft/lora/layer.js';
import type { LoraAdapter } from '../peft/lora/model.js';
import { replacementTensorName, weightsWithReplacements } from '../peft/lora/modules-to-save.js';
import type { PromptTuningAdapter } from '../peft/prompt-tuning/model.js';
import type { SelectiveTuning } from '../peft/selective/model.js';
import { asTrainingBackend, type TrainingBackend } from '../engine/training-backend.js';

/** Ignored label, as PyTorch's cross-entropy ignore_index. */
export const IGNORE_INDEX = -100;

/** The model's input for one step: ids `[batch, seq]`, mask 1 for real tokens. */
export interface ModelInputs {
  readonly ids: Int32Array;
  readonly mask: Uint8Array;
  readonly batch: number;
}

/** One batch for a language-model training step: ids and labels `[batch, seq]`, mask 1 for real tokens. */
export interface TrainingBatch extends ModelInputs {
  /** Hugging Face labels: the token to predict at each position (shifted inside), -100 where ignored. */
  readonly labels: Int32Array;
}

/**
 * What a loss computed outside the model sees: the final hidden states (ln_f's output, `width` = hidden
 * size) or the logits (`width` = vocabulary size), `[batch, seqLen, width]`. With prompt tuning each
 * row starts with `virtualTokens` soft-prompt positions, which `mask` marks as real.
 */
export interface LossInput {
  readonly values: Float32Array;
  readonly batch: number;
  readonly seqLen: number;
  readonly width: number;
  /** `[batch, seqLen]`, 1 for real positions (soft prompt included). */
  readonly mask: Uint8Array;
  readonly virtualTokens: number;
}

/** A scalar loss and its gradient with respect to `LossInput.values` (same shape). */
export interface LossWithGradient {
  readonly loss: number;
  readonly gradient: Float32Array;
}

/**
 * A loss on the model's output other than language-model cross-entropy (a reward head, DPO): the
 * backward pass takes its gradient and carries it through the lm_head (for logits), ln_f and the blocks.
 */
export interface ExternalLoss {
  /** `hidden`: ln_f's output, the input of a reward model's score head; `logits`: the lm_head's output. */
  readonly on: 'hidden' | 'logits';
  readonly lossAndGradient: (input: LossInput) => LossWithGradient;
}

export interface ExternalStepResult {
  readonly loss: number;
  /** Gradients by parameter name, named as in `StepResult.grads`. */
  readonly grads: Map<string, Float32Array>;
}

/** What receives gradients. Everything else stays frozen. */
export interface Trainables {
  readonly lora?: LoraAdapter;
  readonly prompt?: PromptTuningAdapter;
  /** Selective tuning: biases, LayerNorm parameters or named tensors of the model itself. */
  readonly selective?: SelectiveTuning;
}

export interface ForwardBackwardOptions {
  /**
   * Seeds this micro-batch's LoRA dropout masks (peft applies dropout to a LoRA layer's input while
   * training). Without a seed no dropout is applied, as in evaluation.
   */
  readonly dropoutSeed?: number;
  /** false: the loss only, no backward pass (validation). Default true. */
  readonly gradients?: boolean;
  /**
   * Gradient checkpointing (transformers' gradient_checkpointing_enable): keep only each block's
   * input and recompute the block's activations just before its backward, and hold fewer rows of
   * logits at once. Memory for activations drops from every block's to one block's, for about a
   * third more compute. QLoRA training turns it on by default, as peft's prepare_model_for_kbit_training.
   */
  readonly gradientCheckpointing?: boolean;
}

export interface StepResult {
  /** Mean cross-entropy over counted (non-ignored) targets. */
  readonly loss: number;
  readonly counted: number;
  /**
   * Gradients by parameter name: peft's saved names for adapters
   * (`base_model.model.transformer.h.0.self_attention.query_key_value.lora_A.weight`, `prompt_embeddings`),
   * checkpoint names for selectively tuned tensors (`transformer.h.0.input_layernorm.weight`).
   */
  readonly grads: Map<string, Float32Array>;
}

/** Activations a block keeps from forward for backward. */
interface BlockTape {
  input: Float32Array;
  attentionInput: Float32Array;
  qkv: Float32Array;
  context: Float32Array;
  afterAttention: Float32Array;
  mlpInput: Float32Array;
  preGelu: Float32Array;
  postGelu: Float32Array;
  /** Each LoRA layer's input after dropout and x·Aᵀ, kept for its backward. */
  lora: Partial<Record<BlockLinearName, LoraTape>>;
}

interface LoraTape {
  /** The layer input after dropout (the input itself when there is no dropout). */
  readonly input: Float32Array;
  /** Which inputs dropout kept, scaled by 1/(1-p); absent without dropout. */
  readonly keep?: Float32Array;
  readonly down: Float32Array;
  /** DoRA only: what the magnitude's and the input's gradients need. */
  readonly dora?: DoraTape;
}

interface DoraTape {
  /** m/‖W + s·B·A‖ per output row, `[out]`. */
  readonly rowScale: Float32Array;
  /** ‖W + s·B·A‖ per output row, `[out]` (a constant to autograd, as peft detaches it). */
  readonly norms: Float32Array;
  /** The adapted layer's output before scaling, x̃·Wᵀ + s·x̃·Aᵀ·Bᵀ, `[rows, out]`. */
  readonly adapted: Float32Array;
}

/**
 * Rows of `[rows, vocab]` logits (and their gradient) alive at once: 256 rows of BLOOM's 250880-word
 * vocabulary are ~257 MB each. Fewer, larger chunks are faster: the lm_head's backward reads its whole
 * packed weight once per chunk (64-row chunks made it ~25% slower on the BLOOM-560m benchmark).
 */
const LOGIT_ROWS_PER_CHUNK = 256;
/** With gradient checkpointing, where memory matters more than speed: ~32 MB of logits per chunk. */
const LOGIT_ROWS_PER_CHUNK_CHECKPOINTED = 32;

/**
 * Loss and gradients of BLOOM with adapters, as PyTorch's autograd computes them for
 * Hugging Face's BloomForCausalLM under peft: forward keeping each block's activations, the loss on
 * shifted labels, then the blocks in reverse, each backward op beside the forward op it undoes.
 * The lm_head runs in chunks of rows, so the `[rows, vocab]` logits never exist whole.
 */
export function forwardBackward(model: BloomModel, batch: TrainingBatch, trainables: Trainables, options: ForwardBackwardOptions = {}): StepResult {
  if (batch.labels.length !== batch.ids.length) throw new InvalidInputError('batch', 'ids, mask and labels must all be [batch, seq]');
  let counted = 0;
  const { loss, grads } = runModel(model, batch, trainables, options, (head) => {
    const result = crossEntropyHead(head, batch);
    counted = result.counted;
    return result;
  });
  return { loss, counted, grads };
}

/**
 * Loss and gradients for a loss the caller computes on the final hidden states or the logits
 * (`loss.on`): the same forward and backward as `forwardBackward`, dropout, checkpointing and every
 * kind of trainable included, with `loss.lossAndGradient` in place of the cross-entropy. On logits,
 * the `[rows, vocab]` logits exist whole, since the caller's loss needs them at once.
 */
export function forwardBackwardWithLoss(
  model: BloomModel,
  inputs: ModelInputs,
  trainables: Trainables,
  loss: ExternalLoss,
  options: ForwardBackwardOptions = {},
): ExternalStepResult {
  return runModel(model, inputs, trainables, options, (head) => externalHead(head, loss));
}

/** What a loss head gets from the forward pass, and how it reports trained lm_head gradients. */
interface HeadContext {
  readonly backend: TrainingBackend;
  readonly model: BloomModel;
  readonly weights: BloomWeights;
  /** ln_f's output, `[rows, hidden]`. */
  readonly final: Float32Array;
  readonly batch: number;
  readonly seq: number;
  readonly virtual: number;
  readonly mask: Uint8Array;
  readonly wantGradients: boolean;
  readonly checkpointing: boolean;
  readonly trainedAs: (name: string) => string | undefined;
  readonly accumulate: (name: string, grad: Float32Array) => void;
}

/** A loss head's result: the loss and, when gradients are wanted, d loss / d ln_f's output. */
interface HeadResult {
  readonly loss: number;
  readonly dFinal?: Float32Array;
}

/** The language-model loss: mean cross-entropy on shifted labels, through the tied lm_head chunk by chunk. */
function crossEntropyHead(head: HeadContext, batch: TrainingBatch): HeadResult & { counted: number } {
  const { backend, model, weights, final, seq, virtual, wantGradients, checkpointing } = head;
  const { config } = model;
  const h = config.hiddenSize;
  const rows = head.batch * seq;
  const tokenLen = batch.ids.length / batch.batch;
  // Soft-prompt positions get ignored labels; position p predicts label p + 1 (Hugging Face shifts
  // inside the model), and the last position predicts nothing.
  const targets = new Int32Array(rows).fill(IGNORE_INDEX);
  for (let b = 0; b < batch.batch; b++) {
    for (let t = 0; t < tokenLen; t++) {
      const p = virtual + t - 1;
      if (p >= 0) targets[b * seq + p] = batch.labels[b * tokenLen + t];
    }
  }
  let counted = 0;
  for (let i = 0; i < rows; i++) if (targets[i] !== IGNORE_INDEX) counted++;
  if (counted === 0) throw new InvalidInputError('labels', 'every label is -100: the batch has nothing to learn from');
  let lossSum = 0;
  const dFinal = new Float32Array(wantGradients ? rows * h : 0);
  const chunkRows = checkpointing ? LOGIT_ROWS_PER_CHUNK_CHECKPOINTED : LOGIT_ROWS_PER_CHUNK;
  for (let start = 0; start < rows; start += chunkRows) {
    const n = Math.min(chunkRows, rows - start);
    const chunkTargets = targets.subarray(start, start + n);
    if (chunkTargets.every((t) => t === IGNORE_INDEX)) continue;
    const finalChunk = final.subarray(start * h, (start + n) * h);
    const logits = backend.linear(finalChunk, n, weights.lmHead, null);
    const { lossSum: chunkLoss, dLogits } = backend.crossEntropy(logits, config.vocabSize, chunkTargets, 1 / counted, { overwriteLogits: true });
    lossSum += chunkLoss;
    if (!wantGradients) continue;
    dFinal.set(backend.linearBackwardInput(dLogits, n, weights.lmHead), start * h);
    const lmHeadName = head.trainedAs('lm_head.weight');
    if (lmHeadName) head.accumulate(lmHeadName, backend.matmul(dLogits, finalChunk, config.vocabSize, n, h, { transposeA: true }));
  }
  return { loss: lossSum / counted, counted, dFinal: wantGradients ? dFinal : undefined };
}

/** A caller's loss on ln_f's output or on the logits; its gradient on logits goes back through the lm_head. */
function externalHead(head: HeadContext, external: ExternalLoss): HeadResult {
  const { backend, model, weights, final, seq, wantGradients } = head;
  const h = model.config.hiddenSize;
  const vocab = model.config.vocabSize;
  const rows = head.batch * seq;
  const onLogits = external.on === 'logits';
  const values = onLogits ? backend.linear(final, rows, weights.lmHead, null) : final;
  const width = onLogits ? vocab : h;
  const { loss, gradient } = external.lossAndGradient({ values, batch: head.batch, seqLen: seq, width, mask: head.mask, virtualTokens: head.virtual });
  if (!Number.isFinite(loss)) throw new InvalidInputError('loss', `the external loss on the ${external.on} is ${loss}`);
  if (!wantGradients) return { loss };
  if (gradient.length !== rows * width) {
    throw new InvalidInputError('gradient', `has ${gradient.length} values, expected the ${external.on} shape ${head.batch} x ${seq} x ${width}`);
  }
  if (!onLogits) return { loss, dFinal: gradient };
  const lmHeadName = head.trainedAs('lm_head.weight');
  if (lmHeadName) head.accumulate(lmHeadName, backend.matmul(gradient, final, vocab, rows, h, { transposeA: true }));
  return { loss, dFinal: backend.linearBackwardInput(gradient, rows, weights.lmHead) };
}

/**
 * The forward pass, `head`'s loss on ln_f's output, then the backward pass from the gradient it returns
 * down to every trained parameter.
 */
function runModel(
  model: BloomModel,
  batch: ModelInputs,
  trainables: Trainables,
  options: ForwardBackwardOptions,
  head: (context: HeadContext) => HeadResult,
): ExternalStepResult {
  const backend = asTrainingBackend(model.backend);
  const { config } = model;
  const h = config.hiddenSize;
  const eps = config.layerNormEpsilon;
  const virtual = trainables.prompt?.config.numVirtualTokens ?? 0;
  const tokenLen = batch.ids.length / batch.batch;
  if (!Number.isInteger(tokenLen) || batch.mask.length !== batch.ids.length) {
    throw new InvalidInputError('batch', 'ids and mask must both be [batch, seq]');
  }
  const seq = virtual + tokenLen;
  const rows = batch.batch * seq;
  const grads = new Map<string, Float32Array>();
  const selective = trainables.selective;
  const checkpointing = options.gradientCheckpointing ?? false;
  const wantGradients = options.gradients ?? true;
  const accumulate = (name: string, grad: Float32Array) => {
    const existing = grads.get(name);
    if (!existing) grads.set(name, grad);
    else for (let i = 0; i < grad.length; i++) existing[i] += grad[i];
  };

  // The model's weights, with a LoRA adapter's modules_to_save replacements (trained) in place.
  const replacements = trainables.lora?.modulesToSave ?? new Map();
  const weights = weightsWithReplacements(model, replacements);
  /** The name a trained tensor's gradient goes under: checkpoint name (selective) or peft's (modules_to_save). */
  const trainedAs = (name: string): string | undefined => (selective?.has(name) ? name : replacements.has(name) ? replacementTensorName(name) : undefined);

  // Inputs: the soft prompt before each row, with mask ones for its positions.
  const mask = new Uint8Array(rows);
  const tokens = weights.wordEmbeddings === model.weights.wordEmbeddings ? model.embed(batch.ids) : embedChecked(model, weights, batch.ids);
  const inputEmbeddings = new Float32Array(rows * h);
  for (let b = 0; b < batch.batch; b++) {
    mask.fill(1, b * seq, b * seq + virtual);
    mask.set(batch.mask.subarray(b * tokenLen, (b + 1) * tokenLen), b * seq + virtual);
    if (trainables.prompt) inputEmbeddings.set(trainables.prompt.promptEmbeddings, b * seq * h);
    inputEmbeddings.set(tokens.subarray(b * tokenLen * h, (b + 1) * tokenLen * h), (b * seq + virtual) * h);
  }

  // Forward, keeping what backward needs.
  const embeddings = backend.layerNorm(inputEmbeddings, weights.wordEmbeddingsLayernorm.weight, weights.wordEmbeddingsLayernorm.bias, eps);
  const scratchCache = model.createCache(batch.batch, seq);
  const attentionArgs = (qkv: Float32Array): AttentionArgs => ({
    qkv,
    batch: batch.batch,
    queryLen: seq,
    heads: config.numHeads,
    headDim: config.headDim,
    keyCache: scratchCache.keys[0],
    valueCache: scratchCache.values[0],
    capacity: seq,
    pastLen: 0,
    mask,
    slopes: model.slopes,
  });
  const loraDropout = trainables.lora?.config.loraDropout ?? 0;
  /** One block's forward from its input, returning its output and what its backward needs. */
  const blockForward = (layer: number, input: Float32Array): { output: Float32Array; tape: BlockTape } => {
    const w = weights.blocks[layer];
    // Each block draws its dropout masks from its own stream, so a recomputed block draws the same.
    const random = options.dropoutSeed !== undefined && loraDropout > 0 ? new SeededRandom(options.dropoutSeed * 1009 + layer) : undefined;
    const loraTapes: BlockTape['lora'] = {};
    const linear = (module: BlockLinearName, params: LinearParams, x: Float32Array) => {
      const y = backend.linear(x, rows, params.weight, params.bias);
      const lora = trainables.lora?.layer(layer, module);
      if (lora) loraTapes[module] = loraForward(backend, lora, params, x, rows, y, random ? { p: loraDropout, random } : undefined);
      return y;
    };
    const attentionInput = backend.layerNorm(input, w.inputLayernorm.weight, w.inputLayernorm.bias, eps);
    const qkv = linear('query_key_value', w.queryKeyValue, attentionInput);
    const context = backend.attention(attentionArgs(qkv));
    const afterAttention = linear('dense', w.dense, context);
    backend.addInPlace(afterAttention, input);
    const mlpInput = backend.layerNorm(afterAttention, w.postAttentionLayernorm.weight, w.postAttentionLayernorm.bias, eps);
    const preGelu = linear('dense_h_to_4h', w.denseHTo4h, mlpInput);
    const postGelu = backend.gelu(preGelu);
    const output = linear('dense_4h_to_h', w.dense4hToH, postGelu);
    backend.addInPlace(output, afterAttention);
    return { output, tape: { input, attentionInput, qkv, context, afterAttention, mlpInput, preGelu, postGelu, lora: loraTapes } };
  };
  // Each block's tape, or with checkpointing only its input (the tape is rebuilt in backward).
  const tapes: BlockTape[] = [];
  const blockInputs: Float32Array[] = [];
  let hidden = embeddings;
  for (let layer = 0; layer < config.numLayers; layer++) {
    const { output, tape } = blockForward(layer, hidden);
    if (checkpointing) blockInputs.push(hidden);
    else if (wantGradients) tapes.push(tape);
    hidden = output;
  }
  const final = backend.layerNorm(hidden, weights.lnF.weight, weights.lnF.bias, eps);

  const { loss, dFinal } = head({ backend, model, weights, final, batch: batch.batch, seq, virtual, mask, wantGradients, checkpointing, trainedAs, accumulate });
  if (!dFinal) return { loss, grads };

  // Backward through the blocks.
  const layerNormBackward = (x: Float32Array, params: LayerNormParams, dy: Float32Array, name: string) => {
    const { dx, dGamma, dBeta } = backend.layerNormBackward(x, params.weight, dy, eps);
    const gammaName = trainedAs(`transformer.${name}.weight`);
    const betaName = trainedAs(`transformer.${name}.bias`);
    if (gammaName) accumulate(gammaName, dGamma);
    if (betaName) accumulate(betaName, dBeta);
    return dx;
  };
  // Backward goes down only as far as the lowest trained parameter, as autograd does.
  const lowest = lowestTrainedLayer(trainables);
  let dHidden = layerNormBackward(hidden, weights.lnF, dFinal, 'ln_f');
  for (let layer = config.numLayers - 1; layer >= 0 && layer >= lowest; layer--) {
    const w = weights.blocks[layer];
    const tape = checkpointing ? blockForward(layer, blockInputs[layer]).tape : tapes[layer];
    /** Parameter gradients of one linear, and its input gradient unless `needInput` is false. */
    function linearBackward(module: BlockLinearName, params: LinearParams, x: Float32Array, dy: Float32Array): Float32Array;
    function linearBackward(module: BlockLinearName, params: LinearParams, x: Float32Array, dy: Float32Array, needInput: boolean): Float32Array | undefined;
    function linearBackward(module: BlockLinearName, params: LinearParams, x: Float32Array, dy: Float32Array, needInput = true) {
      const lora = trainables.lora?.layer(layer, module);
      const loraTape = lora ? tape.lora[module]! : undefined;
      // DoRA without dropout scales the whole base output per row, so dy reaches W scaled by the same factor.
      const dyThroughWeight = loraTape?.dora && !loraTape.keep ? scaleColumns(dy, loraTape.dora.rowScale) : dy;
      const dx = needInput ? backend.linearBackwardInput(dyThroughWeight, rows, params.weight) : undefined;
      const path = modulePath(layer, module);
      if (selective?.has(`${path}.bias`)) accumulate(`${path}.bias`, backend.sumRows(dy, rows, params.bias.length));
      if (selective?.has(`${path}.weight`)) accumulate(`${path}.weight`, backend.matmul(dy, x, params.weight.outFeatures, rows, params.weight.inFeatures, { transposeA: true }));
      if (lora) loraBackward(backend, lora, params, loraTape!, dy, rows, dx, accumulate, `base_model.model.${path}`);
      return dx;
    }
    // MLP: output = dense_4h_to_h(gelu(dense_h_to_4h(LN2(afterAttention)))) + afterAttention.
    const dPostGelu = linearBackward('dense_4h_to_h', w.dense4hToH, tape.postGelu, dHidden);
    const dPreGelu = backend.geluBackward(tape.preGelu, dPostGelu);
    const dMlpInput = linearBackward('dense_h_to_4h', w.denseHTo4h, tape.mlpInput, dPreGelu);
    const dAfterAttention = layerNormBackward(tape.afterAttention, w.postAttentionLayernorm, dMlpInput, `h.${layer}.post_attention_layernorm`);
    backend.addInPlace(dAfterAttention, dHidden);
    // Attention: afterAttention = dense(attention(qkv(LN1(input)))) + input.
    const dContext = linearBackward('dense', w.dense, tape.context, dAfterAttention);
    const dQkv = backend.attentionBackward(attentionArgs(tape.qkv), dContext);
    const inputLayerNormTrained = trainedAs(`transformer.h.${layer}.input_layernorm.weight`) !== undefined || trainedAs(`transformer.h.${layer}.input_layernorm.bias`) !== undefined;
    const dAttentionInput = linearBackward('query_key_value', w.queryKeyValue, tape.attentionInput, dQkv, layer > lowest || Boolean(inputLayerNormTrained));
    if (!dAttentionInput) break;
    const dInput = layerNormBackward(tape.input, w.inputLayernorm, dAttentionInput, `h.${layer}.input_layernorm`);
    if (layer <= lowest) break;
    backend.addInPlace(dInput, dAfterAttention);
    dHidden = dInput;
  }
  if (lowest < 0) {
    const dInputEmbeddings = layerNormBackward(inputEmbeddings, weights.wordEmbeddingsLayernorm, dHidden, 'word_embeddings_layernorm');
    if (trainables.prompt) {
      // Every row starts with the same soft prompt, so its gradient sums over the batch.
      const dPrompt = new Float32Array(virtual * h);
      for (let b = 0; b < batch.batch; b++) {
        const rowStart = b * seq * h;
        for (let i = 0; i < virtual * h; i++) dPrompt[i] += dInputEmbeddings[rowStart + i];
      }
      accumulate('prompt_embeddings', dPrompt);
    }
    const embeddingsName = trainedAs('transformer.word_embeddings.weight');
    if (embeddingsName) {
      // Each token position adds its input gradient to its id's row (virtual positions have no id).
      const dEmbeddings = new Float32Array(config.vocabSize * h);
      for (let b = 0; b < batch.batch; b++) {
        for (let t = 0; t < tokenLen; t++) {
          const row = (b * seq + virtual + t) * h;
          const id = batch.ids[b * tokenLen + t] * h;
          for (let i = 0; i < h; i++) dEmbeddings[id + i] += dInputEmbeddings[row + i];
        }
      }
      accumulate(embeddingsName, dEmbeddings);
    }
  }
  return { loss, grads };
}

/**
 * The lowest block whose input needs a gradient: -1 when something below the blocks trains (the soft
 * prompt, word_embeddings_layernorm), else the lowest layer holding a trained parameter.
 */
function lowestTrainedLayer(trainables: Trainables): number {
  if (trainables.prompt) return -1;
  let lowest = Infinity;
  for (const key of trainables.lora?.layers.keys() ?? []) lowest = Math.min(lowest, Number(key.split('.')[0]));
  for (const name of [...(trainables.selective?.names ?? []), ...(trainables.lora?.modulesToSave.keys() ?? [])]) {
    if (name === 'transformer.word_embeddings.weight') return -1;
    if (name.startsWith('transformer.word_embeddings_layernorm.')) return -1;
    const layer = /^transformer\.h\.(\d+)\./.exec(name);
    if (layer) lowest = Math.min(lowest, Number(layer[1]));
  }
  return lowest;
}

/** Embedding rows of `ids` from `weights` (a replaced embedding table), each id checked as model.embed checks it. */
function embedChecked(model: BloomModel, weights: BloomWeights, ids: Int32Array): Float32Array {
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < model.config.vocabSize)) throw new InvalidInputError('ids', `token id ${ids[i]} at position ${i} is outside the vocabulary [0, ${model.config.vocabSize})`);
  }
  return model.backend.embedding(weights.wordEmbeddings, ids);
}

/**
 * y += s·(dropout(x)·Aᵀ)·Bᵀ, as peft's LoRA layer in training mode (inverted dropout: kept inputs scaled
 * by 1/(1-p)). Returns what the backward needs.
 *
 * DoRA (peft's DoraLinearLayer): with k = m/‖W + s·B·A‖_row and x̃ = dropout(x),
 * y += (k − 1)⊙(x̃·Wᵀ) + k⊙s·(x̃·Aᵀ)·Bᵀ. Without dropout x̃·Wᵀ is y minus the bias, which peft reuses;
 * with dropout it is recomputed from x̃.
 */
function loraForward(
  backend: TrainingBackend,
  lora: LoraLayer,
  params: LinearParams,
  x: Float32Array,
  rows: number,
  y: Float32Array,
  dropout: { p: number; random: SeededRandom } | undefined,
): LoraTape {
  let input = x;
  let keep: Float32Array | undefined;
  if (dropout) {
    const scale = 1 / (1 - dropout.p);
    keep = new Float32Array(x.length);
    input = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      if (dropout.random.next() >= dropout.p) {
        keep[i] = scale;
        input[i] = x[i] * scale;
      }
    }
  }
  const down = backend.matmul(input, lora.a, rows, lora.inFeatures, lora.r, { transposeB: true });
  const up = backend.matmul(down, lora.b, rows, lora.r, lora.outFeatures, { transposeB: true });
  const { magnitude } = lora;
  if (!magnitude) {
    for (let i = 0; i < y.length; i++) y[i] += lora.scaling * up[i];
    return { input, keep, down };
  }
  // Measured afresh on every forward: A and B change between steps, and the factor is a constant to the backward.
  const norms = lora.weightRowNorms(backend, params.weight);
  const rowScale = norms.map((norm, o) => magnitude[o] / norm);
  const out = lora.outFeatures;
  const baseOfInput = keep ? backend.linear(input, rows, params.weight, null) : undefined;
  const adapted = new Float32Array(y.length);
  for (let row = 0; row < rows; row++) {
    for (let o = 0; o < out; o++) {
      const i = row * out + o;
      const base = baseOfInput ? baseOfInput[i] : y[i] - params.bias[o];
      const update = lora.scaling * up[i];
      adapted[i] = base + update;
      y[i] += (rowScale[o] - 1) * base + rowScale[o] * update;
    }
  }
  return { input, keep, down, dora: { rowScale, norms, adapted } };
}

/** dy `[rows, scale.length]` with each column multiplied by its scale, as a new array. */
function scaleColumns(dy: Float32Array, scale: Float32Array): Float32Array {
  const out = new Float32Array(dy.length);
  for (let i = 0; i < dy.length; i++) out[i] = dy[i] * scale[i % scale.length];
  return out;
}

/**
 * Gradients of y += s·(x̃·Aᵀ)·Bᵀ with x̃ = dropout(x): dB = s·dyᵀ·down, dA = (s·dy·B)ᵀ·x̃, and
 * dx += keep ⊙ ((s·dy·B)·A) (when dx is given).
 *
 * DoRA: the update's dy is k⊙dy; dm = Σ_rows dy ⊙ (x̃·Wᵀ + s·x̃·Aᵀ·Bᵀ)/‖W + s·B·A‖; and with dropout
 * dx also gains keep ⊙ (((k − 1)⊙dy)·W) (without dropout the caller folded k into dy before W).
 */
function loraBackward(
  backend: TrainingBackend,
  lora: LoraLayer,
  params: LinearParams,
  tape: LoraTape,
  dyOutput: Float32Array,
  rows: number,
  dx: Float32Array | undefined,
  accumulate: (name: string, grad: Float32Array) => void,
  prefix: string,
): void {
  const { r, inFeatures, outFeatures, scaling } = lora;
  const { dora } = tape;
  let dy = dyOutput;
  if (dora) {
    const sums = new Float64Array(outFeatures);
    for (let i = 0; i < dy.length; i++) sums[i % outFeatures] += dy[i] * dora.adapted[i];
    accumulate(`${prefix}.lora_magnitude_vector`, Float32Array.from(sums, (sum, o) => sum / dora.norms[o]));
    if (dx && tape.keep) {
      const dBase = backend.linearBackwardInput(scaleColumns(dy, dora.rowScale.map((k) => k - 1)), rows, params.weight);
      for (let i = 0; i < dBase.length; i++) dx[i] += tape.keep[i] * dBase[i];
    }
    dy = scaleColumns(dy, dora.rowScale);
  }
  const dB = backend.matmul(dy, tape.down, outFeatures, rows, r, { transposeA: true });
  for (let i = 0; i < dB.length; i++) dB[i] *= scaling;
  const dDown = backend.matmul(dy, lora.b, rows, outFeatures, r);
  for (let i = 0; i < dDown.length; i++) dDown[i] *= scaling;
  accumulate(`${prefix}.lora_A.weight`, backend.matmul(dDown, tape.input, r, rows, inFeatures, { transposeA: true }));
  accumulate(`${prefix}.lora_B.weight`, dB);
  if (!dx) return;
  const dInput = backend.matmul(dDown, lora.a, rows, r, inFeatures);
  if (tape.keep) for (let i = 0; i < dInput.length; i++) dInput[i] *= tape.keep[i];
  backend.addInPlace(dx, dInput);
}

