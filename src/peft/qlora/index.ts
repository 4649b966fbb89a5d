/**
 * QLoRA: LoRA adapters trained on a frozen base model whose block linears are stored in 4-bit NF4.
 *
 * How the pieces fit:
 * - `nf4.ts` quantises a float32 matrix as bitsandbytes does (blocks of 64, absmax scales, the NF4
 *   code book, optional double quantisation of the scales) and dequantises it back.
 * - The engine stores such a matrix as a Weight through `Backend.prepareQuantizedWeight(nf4,
 *   computeDtype)`: the packed 4-bit codes and scales are all it keeps (about 4.5 bits per value, 4.13
 *   with double quantisation). linear, linearBackwardInput and embedding dequantise blocks on the fly
 *   to the compute dtype (bf16: the dequantised float32 value rounded to bf16, as bitsandbytes'
 *   `dequantize_4bit(..., dtype=bfloat16)`), so a dequantised copy of the whole matrix never exists.
 * - `BloomModel.load(dir, { quantization: 'nf4', doubleQuant })` quantises each block linear as it is
 *   read (one float32 tensor resident at a time); the embedding / tied lm_head stays at the compute
 *   dtype and LayerNorms and biases stay float32, as bitsandbytes leaves them unquantised.
 * - LoRA (src/peft/lora) is unchanged: its A and B stay float32 and train as before; its update is
 *   added to the quantised layer's output, and gradients flow through the frozen NF4 weights via
 *   linearBackwardInput, as peft's LoRA on bitsandbytes' Linear4bit does.
 */
export { DEFAULT_QLORA_CONFIG, parseQloraConfig, type QloraConfig } from './config.js';
export {
  createDynamicMap,
  dequantizeBlockwise,
  dequantizeNf4,
  doubleQuantize,
  nf4BlockAbsmax,
  nf4Bytes,
  NF4_BLOCK_SIZE,
  NF4_CODE,
  quantizeBlockwise,
  quantizeNf4,
  type Nf4DoubleQuantAbsmax,
  type Nf4QuantizeOptions,
  type Nf4Tensor,
} from './nf4.js';
