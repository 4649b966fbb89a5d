import { InvalidInputError } from '../../errors.js';
import type { BloomConfig } from '../../models/bloom/config.js';

/**
 * What selective tuning trains, as checkpoint tensor names (`transformer.h.0.input_layernorm.weight`):
 * - `layernorm`: peft's LN tuning. Its BLOOM targets are input_layernorm, post_attention_layernorm and
 *   ln_f (peft's default for bloom); `targetModules` may name others, word_embeddings_layernorm included.
 * - `bias`: every bias of the block linears (BitFit).
 * - `named`: any tensors whose names fully match one of the regular expressions, the linear weights
 *   included. The tied word embedding is not trainable here: it is also the lm_head.
 */
export type SelectiveSpec =
  | { readonly kind: 'layernorm'; readonly targetModules?: readonly string[] }
  | { readonly kind: 'bias' }
  | { readonly kind: 'named'; readonly patterns: readonly string[] };

/** peft's TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING for bloom. */
export const LN_TUNING_DEFAULT_TARGETS: readonly string[] = ['input_layernorm', 'post_attention_layernorm', 'ln_f'];

const BLOCK_LAYERNORMS = ['input_layernorm', 'post_attention_layernorm'] as const;
const BLOCK_LINEARS = ['self_attention.query_key_value', 'self_attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h'] as const;

/** The LayerNorm modules of a BLOOM model, by peft module path. */
export function layerNormModules(config: BloomConfig): string[] {
  const modules = ['transformer.word_embeddings_layernorm'];
  for (let layer = 0; layer < config.numLayers; layer++) for (const ln of BLOCK_LAYERNORMS) modules.push(`transformer.h.${layer}.${ln}`);
  modules.push('transformer.ln_f');
  return modules;
}

/** Every tensor selective tuning can train, in checkpoint order. */
export function tunableTensorNames(config: BloomConfig): string[] {
  const names = ['transformer.word_embeddings_layernorm.weight', 'transformer.word_embeddings_layernorm.bias'];
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `transformer.h.${layer}`;
    names.push(`${prefix}.input_layernorm.weight`, `${prefix}.input_layernorm.bias`);
    for (const linear of BLOCK_LINEARS.slice(0, 2)) names.push(`${prefix}.${linear}.weight`, `${prefix}.${linear}.bias`);
    names.push(`${prefix}.post_attention_layernorm.weight`, `${prefix}.post_attention_layernorm.bias`);
    for (const linear of BLOCK_LINEARS.slice(2)) names.push(`${prefix}.${linear}.weight`, `${prefix}.${linear}.bias`);
  }
  names.push('transformer.ln_f.weight', 'transformer.ln_f.bias');
  return names;
}

/** Whether a peft target (a module name matched as a suffix, or a full-match regex) selects a module path. */
function targets(target: string, path: string): boolean {
  return path === target || path.endsWith(`.${target}`) || new RegExp(`^(?:${target})$`).test(path);
}

/** The checkpoint names a spec trains; each pattern or target must match something. */
export function selectTensors(config: BloomConfig, spec: SelectiveSpec): string[] {
  const all = tunableTensorNames(config);
  switch (spec.kind) {
    case 'bias':
      return all.filter((name) => name.endsWith('.bias') && !name.includes('layernorm') && !name.includes('ln_f'));
    case 'layernorm': {
      const wanted = spec.targetModules ?? LN_TUNING_DEFAULT_TARGETS;
      const modules = layerNormModules(config);
      for (const target of wanted) {
        if (!modules.some((path) => targets(target, path))) {
          throw new InvalidInputError('method.target_modules', `"${target}" matches no LayerNorm of this BLOOM model (e.g. input_layernorm, post_attention_layernorm, ln_f, word_embeddings_layernorm)`);
        }
      }
      const chosen = modules.filter((path) => wanted.some((target) => targets(target, path)));
      return chosen.flatMap((path) => [`${path}.weight`, `${path}.bias`]);
    }
    case 'named': {
      const chosen = new Set<string>();
      for (const pattern of spec.patterns) {
        let regex: RegExp;
        try {
          regex = new RegExp(`^(?:transformer\\.)?(?:${pattern})$`);
        } catch (cause) {
          throw new InvalidInputError('method.parameters', `"${pattern}" is not a valid regular expression (${(cause as Error).message})`);
        }
        if (regex.test('transformer.word_embeddings.weight') || regex.test('word_embeddings.weight')) {
          throw new InvalidInputError('method.parameters', `"${pattern}" matches word_embeddings.weight, which BLOOM ties to the lm_head; it cannot be tuned selectively`);
        }
        const matched = all.filter((name) => regex.test(name));
        if (matched.length === 0) throw new InvalidInputError('method.parameters', `"${pattern}" matches no tensor (names look like h.0.self_attention.dense.bias, ln_f.weight)`);
        for (const name of matched) chosen.add(name);
      }
      return all.filter((name) => chosen.has(name));
    }
  }
}
