import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceDir } from './paths.js';

/** The Hugging Face reference outputs of one fixture checkpoint (`a` or `b`), per its manifest.json. */
export interface Reference {
  readonly checkpointDir: string;
  readonly values: Record<string, unknown>;
  shape(name: string): number[];
  f32(name: string): Float32Array;
  ints(name: string): Int32Array;
}

export function loadReference(which: 'a' | 'b'): Reference {
  const dir = join(referenceDir, `ref_${which}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    arrays: Record<string, { file: string; dtype: string; shape: number[] }>;
    values: Record<string, unknown>;
  };
  const array = (name: string) => {
    const spec = manifest.arrays[name];
    if (!spec) throw new Error(`reference ${which} has no array ${name}`);
    const bytes = readFileSync(join(dir, spec.file));
    return { spec, buffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
  };
  return {
    checkpointDir: join(referenceDir, `ckpt_${which}`),
    values: manifest.values,
    shape: (name) => manifest.arrays[name].shape,
    f32: (name) => new Float32Array(array(name).buffer),
    ints: (name) => {
      const { spec, buffer } = array(name);
      if (spec.dtype === 'int64') return Int32Array.from(new BigInt64Array(buffer), (v) => Number(v));
      return new Int32Array(buffer);
    },
  };
}

/** Largest absolute difference, failing loudly on a length mismatch. */
export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} differs from expected ${expected.length}`);
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}
