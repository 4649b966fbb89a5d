import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { BYTES_PER_ELEMENT, type DType, f16ToF32 } from '../engine/dtype.js';
import type { Tensor, TensorData } from '../engine/tensor.js';
import { CheckpointError } from '../errors.js';

/**
 * Reader and writer for the safetensors format: an unsigned 64-bit little-endian header length N, N bytes
 * of JSON mapping tensor names to {dtype, shape, data_offsets}, then the raw little-endian data.
 *
 * The reader validates the whole header before any data is read, and reads tensors with positioned
 * reads in bounded chunks, converting to the requested element type on the way. That keeps peak memory
 * at the converted model's size: a float32 file loaded as bf16 never sits in memory at full width.
 */

/** The stored element types this reader converts; other safetensors dtypes are named in the error. */
export type StoredDType = 'F32' | 'F16' | 'BF16';
const STORED_TO_DTYPE: Readonly<Record<StoredDType, DType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };
const DTYPE_TO_STORED: Readonly<Record<DType, StoredDType>> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const CHUNK_BYTES = 8 * 1024 * 1024;

export interface TensorEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Byte range of the data, relative to the start of the data section. */
  readonly begin: number;
  readonly end: number;
}

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private fd: number,
    private readonly dataStart: number,
    readonly entries: ReadonlyMap<string, TensorEntry>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Opens and validates a safetensors file. Throws CheckpointError naming the file and tensor. */
  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new CheckpointError(path, `cannot open: ${(cause as Error).message}`, {}, { cause });
    }
    try {
      const fileSize = fstatSync(fd).size;
      if (fileSize < 8) throw new CheckpointError(path, `file is ${fileSize} bytes, too short for the 8-byte header length`);
      const lengthBytes = Buffer.alloc(8);
      readSync(fd, lengthBytes, 0, 8, 0);
      const headerLength = lengthBytes.readBigUInt64LE(0);
      if (headerLength > BigInt(fileSize - 8)) {
        throw new CheckpointError(path, `header length ${headerLength} runs past the end of the file (${fileSize} bytes): the file is truncated or not safetensors`);
      }
      if (headerLength > BigInt(MAX_HEADER_BYTES)) throw new CheckpointError(path, `header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
      const headerBytes = Buffer.alloc(Number(headerLength));
      readSync(fd, headerBytes, 0, headerBytes.length, 8);
      const dataStart = 8 + headerBytes.length;
      const { entries, metadata } = parseHeader(path, headerBytes, fileSize - dataStart);
      return new SafetensorsFile(path, fd, dataStart, entries, metadata);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): TensorEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new CheckpointError(this.path, 'tensor is missing', { tensor: name });
    return entry;
  }

  /** Reads one tensor, converting it to `as` (default: its stored type). */
  read(name: string, as?: DType): Tensor {
    const entry = this.entry(name);
    const target = as ?? entry.dtype;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const out: TensorData = target === 'f32' ? new Float32Array(count) : new Uint16Array(count);
    if (target === entry.dtype) {
      this.readInto(entry, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), 0);
      return { dtype: target, shape: entry.shape, data: out };
    }
    const sourceWidth = BYTES_PER_ELEMENT[entry.dtype];
    const elementsPerChunk = Math.floor(CHUNK_BYTES / sourceWidth);
    const chunk = new Uint8Array(elementsPerChunk * sourceWidth);
    for (let first = 0; first < count; first += elementsPerChunk) {
      const n = Math.min(elementsPerChunk, count - first);
      const bytes = chunk.subarray(0, n * sourceWidth);
      this.readInto(entry, bytes, first * sourceWidth);
      convertChunk(entry.dtype, bytes, target, out, first, n);
    }
    return { dtype: target, shape: entry.shape, data: out };
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private readInto(entry: TensorEntry, target: Uint8Array, offsetInTensor: number): void {
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, Math.min(target.length - done, 1 << 30), this.dataStart + entry.begin + offsetInTensor + done);
      if (n <= 0) throw new CheckpointError(this.path, 'unexpected end of file while reading data', { tensor: entry.name });
      done += n;
    }
  }
}

function convertChunk(from: DType, bytes: Uint8Array, to: DType, out: TensorData, first: number, n: number): void {
  // Alignment: `bytes` starts at offset 0 of its own buffer, so typed views over it are aligned.
  if (from === 'f32' && to === 'bf16') {
    const bits = new Uint32Array(bytes.buffer, bytes.byteOffset, n);
    const dst = out as Uint16Array;
    for (let i = 0; i < n; i++) {
      const x = bits[i];
      dst[first + i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
    }
  } else if (from === 'bf16' && to === 'f32') {
    const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    const dst = new Uint32Array((out as Float32Array).buffer, (out as Float32Array).byteOffset + first * 4, n);
    for (let i = 0; i < n; i++) dst[i] = src[i] << 16;
  } else if (from === 'f16') {
    const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    if (to === 'f32') {
      const dst = out as Float32Array;
      for (let i = 0; i < n; i++) dst[first + i] = f16ToF32(src[i]);
    } else {
      const f32 = new Float32Array(n);
      for (let i = 0; i < n; i++) f32[i] = f16ToF32(src[i]);
      convertChunk('f32', new Uint8Array(f32.buffer), 'bf16', out, first, n);
    }
  } else {
    throw new RangeError(`no conversion from ${from} to ${to}`);
  }
}

function parseHeader(path: string, headerBytes: Buffer, dataBytes: number): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch (cause) {
    throw new CheckpointError(path, `header is not valid JSON (${(cause as Error).message})`, {}, { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError(path, 'header must be a JSON object');
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) throw new CheckpointError(path, '__metadata__ must be an object of strings', { field: '__metadata__' });
      metadata = raw as Record<string, string>;
      continue;
    }
    entries.set(name, parseEntry(path, name, raw, dataBytes));
  }
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new CheckpointError(path, `data_offsets overlap those of "${sorted[i - 1].name}"`, { tensor: sorted[i].name });
    }
  }
  return { entries, metadata };
}

function parseEntry(path: string, name: string, raw: unknown, dataBytes: number): TensorEntry {
  const fail = (detail: string): never => {
    throw new CheckpointError(path, detail, { tensor: name });
  };
  if (typeof raw !== 'object' || raw === null) fail('header entry must be an object');
  const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string') return fail('missing "dtype"');
  if (!(dtype in STORED_TO_DTYPE)) fail(`unsupported dtype "${dtype}" (expected one of F32, F16, BF16)`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail('"shape" must be an array of non-negative integers');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail('"data_offsets" must be [begin, end] with non-negative integers');
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataBytes) fail(`data_offsets [${begin}, ${end}] are out of range: the data section has ${dataBytes} bytes (file truncated?)`);
  const elementType = STORED_TO_DTYPE[dtype as StoredDType];
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[elementType];
  if (end - begin !== expected) {
    fail(`shape [${(shape as number[]).join(', ')}] with dtype ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype: elementType, shape: shape as number[], begin, end };
}

/**
 * Writes tensors to a safetensors file atomically: to a temporary file first, renamed over `path` only
 * when complete, so a crash never leaves a half-written checkpoint.
 */
export function writeSafetensors(path: string, tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string> = { format: 'pt' }): void {
  const items: [string, Tensor][] = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, tensor] of items) {
    const bytes = tensor.data.byteLength;
    header[name] = { dtype: DTYPE_TO_STORED[tensor.dtype], shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - ((8 + Buffer.byteLength(headerText)) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, lengthBytes);
    writeSync(fd, headerBytes);
    for (const [, tensor] of items) {
      writeSync(fd, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
