import { NF4_BLOCK_SIZE } from './nf4.js';

/**
 * QLoRA's quantisation options, the fields of transformers' BitsAndBytesConfig that QLoRA sets:
 * `load_in_4bit=True, bnb_4bit_quant_type='nf4', bnb_4bit_compute_dtype, bnb_4bit_use_double_quant`.
 */
export interface QloraConfig {
  /** Always 'nf4' (the 4-bit NormalFloat code book). */
  readonly quantType: 'nf4';
  /** Precision the frozen weights are dequantised to for each matmul (bnb_4bit_compute_dtype). */
  readonly computeDtype: 'bf16' | 'f32';
  /** Quantise the per-block absmax values to 8 bits too (bnb_4bit_use_double_quant). */
  readonly doubleQuant: boolean;
  /** Values per absmax block: 64, as bitsandbytes' Linear4bit uses. */
  readonly blockSize: typeof NF4_BLOCK_SIZE;
}

/** The QLoRA paper's setting: NF4, bf16 compute, double quantisation, blocks of 64. */
export const DEFAULT_QLORA_CONFIG: QloraConfig = { quantType: 'nf4', computeDtype: 'bf16', doubleQuant: true, blockSize: NF4_BLOCK_SIZE };

/** Fills defaults and checks a partial config. */
export function parseQloraConfig(partial: Partial<QloraConfig> = {}): QloraConfig {
  const config = { ...DEFAULT_QLORA_CONFIG, ...partial };
  if (config.quantType !== 'nf4') throw new RangeError(`QLoRA quantType must be 'nf4', got ${String(config.quantType)}`);
  if (config.computeDtype !== 'bf16' && config.computeDtype !== 'f32') {
    throw new RangeError(`QLoRA computeDtype must be 'bf16' or 'f32', got ${String(config.computeDtype)}`);
  }
  if (typeof config.doubleQuant !== 'boolean') throw new TypeError('QLoRA doubleQuant must be a boolean');
  if (config.blockSize !== NF4_BLOCK_SIZE) throw new RangeError(`QLoRA blockSize must be ${NF4_BLOCK_SIZE}, got ${String(config.blockSize)}`);
  return config;
}
