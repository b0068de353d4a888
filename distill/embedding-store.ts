import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../core/files.ts';
import { decodeHalf, encodeHalf } from './float16.ts';

/** "FKE1": a fedkd embedding file. */
const MAGIC = 0x31454b46;

/** What an embedding file says about itself (its JSON header). */
export interface EmbeddingHeader {
  /** The cache key: encoder sha256 + dataset hash + preprocessing. */
  key: string;
  encoderSha256: string;
  preprocess: unknown;
  /** Images, and the NHWC shape of one embedding map. */
  n: number;
  height: number;
  width: number;
  channels: number;
  /** Side of the preprocessed (square) image the masks are given at. */
  imageSize: number;
  /** Image paths as labels.csv lists them, and their labels. */
  files: string[];
  labels: number[];
  /** True when masks (N·S·S bytes, 0/1) follow the header. */
  hasMasks: boolean;
}

/** The values an embedding file holds, before encoding. */
export interface EmbeddingContent {
  header: EmbeddingHeader;
  /** N·h·w·c float32, NHWC, image after image. */
  embeddings: Float32Array;
  /** N·S·S, non-zero = foreground. */
  masks?: Float32Array;
}

/** Bytes of one image's float16 embedding map. */
function rowBytes(h: EmbeddingHeader): number {
  return h.height * h.width * h.channels * 2;
}

/**
 * Writes an embedding file: u32 magic, u32 header length, the JSON header, padding to 8 bytes,
 * the masks as bytes (padded to 8), then the embeddings as little-endian float16, image after
 * image, so one image's map is read with one seek.
 */
export async function writeEmbeddingFile(file: string, c: EmbeddingContent): Promise<void> {
  const json = new TextEncoder().encode(JSON.stringify(c.header));
  const headPad = Math.ceil((8 + json.length) / 8) * 8;
  const maskBytes = c.header.hasMasks ? c.header.n * c.header.imageSize ** 2 : 0;
  const maskPad = Math.ceil(maskBytes / 8) * 8;
  const half = encodeHalf(c.embeddings);
  const out = new Uint8Array(headPad + maskPad + half.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, json.length, true);
  out.set(json, 8);
  if (c.masks) for (let i = 0; i < maskBytes; i++) out[headPad + i] = c.masks[i] !== 0 ? 1 : 0;
  out.set(new Uint8Array(half.buffer), headPad + maskPad);
  await writeFileAtomic(file, out);
}

/**
 * An embedding file opened for reading: the header and masks in memory, the embedding maps
 * either in memory (float16, half the float32 bytes) or streamed from disk one image at a time.
 */
export class EmbeddingFile {
  private constructor(
    readonly header: EmbeddingHeader,
    /** N·S·S masks (0/1), when the dataset has them. */
    readonly masks: Float32Array | undefined,
    private readonly dataOffset: number,
    private readonly path: string,
    private readonly memory: Uint16Array | undefined,
  ) {}

  /** Opens `file`; `stream` keeps the maps on disk. Undefined when the file is absent or not an embedding file. */
  static open(file: string, stream = false): EmbeddingFile | undefined {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return undefined;
    }
    try {
      const head = Buffer.alloc(8);
      if (readSync(fd, head, 0, 8, 0) !== 8 || head.readUInt32LE(0) !== MAGIC) return undefined;
      const json = Buffer.alloc(head.readUInt32LE(4));
      readSync(fd, json, 0, json.length, 8);
      const header = JSON.parse(json.toString('utf8')) as EmbeddingHeader;
      const headPad = Math.ceil((8 + json.length) / 8) * 8;
      const maskBytes = header.hasMasks ? header.n * header.imageSize ** 2 : 0;
      const masks = header.hasMasks ? new Float32Array(maskBytes) : undefined;
      if (masks) {
        const raw = Buffer.alloc(maskBytes);
        readSync(fd, raw, 0, maskBytes, headPad);
        for (let i = 0; i < maskBytes; i++) masks[i] = raw[i];
      }
      const dataOffset = headPad + Math.ceil(maskBytes / 8) * 8;
      let inMemory: Uint16Array | undefined;
      if (!stream) {
        const bytes = readFileSync(file);
        if (bytes.length !== dataOffset + header.n * rowBytes(header)) return undefined;
        inMemory = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + dataOffset, bytes.byteOffset + bytes.length));
      }
      return new EmbeddingFile(header, masks, dataOffset, file, inMemory);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /** The same file with its maps loaded into memory (this one when they already are). */
  inMemory(): EmbeddingFile {
    if (this.memory) return this;
    const loaded = EmbeddingFile.open(this.path, false);
    if (!loaded) throw new Error(`${this.path} changed or vanished while open`);
    return loaded;
  }

  /** Whether the maps are read from disk per image. */
  get streamed(): boolean {
    return this.memory === undefined;
  }

  /** Bytes this object holds for the maps (0 when streamed). */
  get residentBytes(): number {
    return this.memory?.byteLength ?? 0;
  }

  /** Image `i`'s embedding map, h·w·c float32 NHWC, written into `out` when given. */
  row(i: number, out?: Float32Array): Float32Array {
    const bytes = rowBytes(this.header);
    if (this.memory) return decodeHalf(this.memory.subarray((i * bytes) / 2, ((i + 1) * bytes) / 2), out);
    const buf = Buffer.alloc(bytes);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, bytes, this.dataOffset + i * bytes);
    } finally {
      closeSync(fd);
    }
    return decodeHalf(new Uint16Array(buf.buffer, buf.byteOffset, bytes / 2), out);
  }
}
