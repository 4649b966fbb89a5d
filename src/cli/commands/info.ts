import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointTensors } from '../../models/bloom/checkpoint.js';
import { bloomParameterCount, readBloomConfig } from '../../models/bloom/config.js';
import { requireModelDir } from '../model-options.js';
import { parseOptions } from '../parse-options.js';

export const INFO_HELP = `tuneloop info: describe a BLOOM checkpoint without loading its weights

Usage:
  tuneloop info --model DIR [--json]

Prints the architecture from config.json, the parameter count, the stored tensor types, file sizes,
and the memory the weights need at each compute precision.`;

export async function runInfo(argv: string[]): Promise<void> {
  const { values } = parseOptions('info', { args: argv, options: { model: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const dir = requireModelDir(values.model);
  const config = readBloomConfig(join(dir, 'config.json'));
  const tensors = CheckpointTensors.open(dir);
  const storedTypes = new Map<string, number>();
  const files = new Set<string>();
  for (const name of tensors.names()) {
    const entry = tensors.entry(name);
    storedTypes.set(entry.dtype, (storedTypes.get(entry.dtype) ?? 0) + 1);
    files.add(entry.file);
  }
  tensors.close();
  const parameters = bloomParameterCount(config);
  const fileBytes = [...files].reduce((n, f) => n + statSync(f).size, 0);
  const info = {
    model_dir: dir,
    architecture: 'BloomForCausalLM',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    layers: config.numLayers,
    heads: config.numHeads,
    head_dim: config.headDim,
    parameters,
    tied_lm_head: config.tieWordEmbeddings,
    stored_dtypes: Object.fromEntries(storedTypes),
    files: files.size,
    file_bytes: fileBytes,
    weight_bytes: { fp32: parameters * 4, bf16: parameters * 2 },
    special_tokens: { bos: config.bosTokenId ?? null, eos: config.eosTokenId ?? null, pad: config.padTokenId ?? null },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const lines = [
    `model        ${dir}`,
    `architecture BloomForCausalLM: ${config.numLayers} layers, hidden ${config.hiddenSize}, ${config.numHeads} heads of ${config.headDim}, vocab ${config.vocabSize}`,
    `parameters   ${parameters.toLocaleString('en-US')} (${(parameters / 1e6).toFixed(1)} M; lm_head ${config.tieWordEmbeddings ? 'tied to the word embeddings' : 'separate'})`,
    `stored as    ${[...storedTypes].map(([t, n]) => `${n} ${t} tensors`).join(', ')} in ${files.size} file(s), ${mb(fileBytes)}`,
    `memory       weights need ${mb(parameters * 4)} in fp32, ${mb(parameters * 2)} in bf16`,
    `tokens       bos ${config.bosTokenId ?? '-'}, eos ${config.eosTokenId ?? '-'}, pad ${config.padTokenId ?? '-'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
