import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../../engine/dtype.js';
import type { Tensor } from '../../engine/tensor.js';
import { CheckpointError } from '../../errors.js';
import { SafetensorsFile, type TensorEntry } from '../../formats/safetensors.js';

/**
 * The tensors of a Hugging Face checkpoint directory: one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json`. Names are looked up with and without the `transformer.` prefix that
 * BloomForCausalLM adds (the original bigscience checkpoints store them without it).
 */
export class CheckpointTensors {
  private constructor(
    readonly dir: string,
    private readonly files: readonly SafetensorsFile[],
    /** Resolved tensor name (without prefix) → the file holding it and its stored name. */
    private readonly index: ReadonlyMap<string, { file: SafetensorsFile; storedName: string }>,
  ) {}

  static open(dir: string): CheckpointTensors {
    const single = join(dir, 'model.safetensors');
    const indexPath = join(dir, 'model.safetensors.index.json');
    if (existsSync(indexPath)) return CheckpointTensors.openSharded(dir, indexPath);
    if (existsSync(single)) return CheckpointTensors.fromFiles(dir, [SafetensorsFile.open(single)]);
    const legacy = join(dir, 'pytorch_model.bin');
    const hint = existsSync(legacy) ? ' (found pytorch_model.bin: convert it to safetensors; pickle files are not loaded)' : '';
    throw new CheckpointError(dir, `no model.safetensors or model.safetensors.index.json${hint}`);
  }

  private static openSharded(dir: string, indexPath: string): CheckpointTensors {
    let index: unknown;
    try {
      index = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (cause) {
      throw new CheckpointError(indexPath, `cannot read the shard index: ${(cause as Error).message}`, {}, { cause });
    }
    const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new CheckpointError(indexPath, 'must contain an object mapping tensor names to shard files', { field: 'weight_map' });
    }
    const shardNames = new Set<string>();
    for (const [tensor, file] of Object.entries(weightMap as Record<string, unknown>)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
        throw new CheckpointError(indexPath, `shard for tensor "${tensor}" must be a file name in the same directory`, { field: `weight_map.${tensor}` });
      }
      shardNames.add(file);
    }
    const files: SafetensorsFile[] = [];
    try {
      for (const name of [...shardNames].sort()) files.push(SafetensorsFile.open(join(dir, name)));
    } catch (error) {
      for (const f of files) f.close();
      throw error;
    }
    const byName = new Map(files.map((f, i) => [[...shardNames].sort()[i], f] as const));
    for (const [tensor, file] of Object.entries(weightMap as Record<string, string>)) {
      if (!byName.get(file)!.has(tensor)) {
        throw new CheckpointError(join(dir, file), `the index ${indexPath} places this tensor here but the shard does not contain it`, { tensor });
      }
    }
    return CheckpointTensors.fromFiles(dir, files);
  }

  private static fromFiles(dir: string, files: SafetensorsFile[]): CheckpointTensors {
    const index = new Map<string, { file: SafetensorsFile; storedName: string }>();
    for (const file of files) {
      for (const storedName of file.entries.keys()) {
        const name = storedName.startsWith('transformer.') ? storedName.slice('transformer.'.length) : storedName;
        const previous = index.get(name);
        if (previous) {
          throw new CheckpointError(file.path, `tensor is stored twice (also as "${previous.storedName}" in ${previous.file.path})`, { tensor: storedName });
        }
        index.set(name, { file, storedName });
      }
    }
    return new CheckpointTensors(dir, files, index);
  }

  /** Names without the `transformer.` prefix. */
  names(): string[] {
    return [...this.index.keys()];
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  entry(name: string): TensorEntry & { file: string } {
    const found = this.locate(name);
    return { ...found.file.entry(found.storedName), file: found.file.path };
  }

  /** Reads a tensor converted to `dtype`, checking its shape. */
  read(name: string, dtype: DType, expectedShape: readonly number[]): Tensor {
    const found = this.locate(name);
    const entry = found.file.entry(found.storedName);
    if (entry.shape.length !== expectedShape.length || entry.shape.some((d, i) => d !== expectedShape[i])) {
      throw new CheckpointError(
        found.file.path,
        `shape [${entry.shape.join(', ')}] does not match [${expectedShape.join(', ')}] expected from config.json`,
        { tensor: found.storedName },
      );
    }
    return found.file.read(found.storedName, dtype);
  }

  close(): void {
    for (const file of this.files) file.close();
  }

  private locate(name: string): { file: SafetensorsFile; storedName: string } {
    const found = this.index.get(name);
    if (!found) {
      const where = this.files.length === 1 ? this.files[0].path : `${this.dir} (${this.files.length} shards)`;
      throw new CheckpointError(where, 'tensor is missing (looked for it with and without the "transformer." prefix)', { tensor: name });
    }
    return found;
  }
}
