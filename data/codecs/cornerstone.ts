import { createRequire } from 'node:module';
import { bytesTo16, planarToInterleaved, type CodecFrame } from './frame.ts';

/**
 * The emscripten wasm codecs of the @cornerstonejs/codec-* packages, loaded in Node.
 * Each package's `decodewasmjs` export is a CommonJS factory that finds its `.wasm`
 * beside itself (`__dirname`) and resolves to a module holding a decoder class with
 * one shape: `getEncodedBuffer(n)` → write the bitstream, `decode()`, `getFrameInfo()`,
 * `getDecodedBuffer()` (a view into the wasm heap, copied out at once), `delete()`.
 */

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getDecodedBuffer(): Uint8Array;
  getInterleaveMode?(): number;
  delete(): void;
}

type DecoderClass = new () => WasmDecoder;
type Factory = (moduleArg: { print(s: string): void; printErr(s: string): void }) => Promise<Record<string, unknown>>;

/** The three wasm codecs, by the transfer-syntax family they decode. */
export type WasmCodec = 'jpeg-baseline' | 'jpeg-ls' | 'jpeg-2000';

const PACKAGES: Record<WasmCodec, { module: string; className: string }> = {
  'jpeg-baseline': { module: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', className: 'JPEGDecoder' },
  'jpeg-ls': { module: '@cornerstonejs/codec-charls/decodewasmjs', className: 'JpegLSDecoder' },
  'jpeg-2000': { module: '@cornerstonejs/codec-openjpeg/decodewasmjs', className: 'J2KDecoder' },
};

const require = createRequire(import.meta.url);
const loaded = new Map<WasmCodec, Promise<DecoderClass>>();

/** Loads (once per process) and returns the decoder class of a wasm codec. */
export function loadWasmDecoder(codec: WasmCodec): Promise<DecoderClass> {
  let p = loaded.get(codec);
  if (!p) {
    const { module, className } = PACKAGES[codec];
    const factory = require(module) as Factory;
    // OpenJPEG logs [INFO] lines through print: keep stdout clean for --json
    p = factory({ print: () => {}, printErr: () => {} }).then((m) => {
      const cls = m[className];
      if (typeof cls !== 'function') throw new Error(`${module} has no ${className}`);
      return cls as DecoderClass;
    });
    loaded.set(codec, p);
  }
  return p;
}

/**
 * Decodes one compressed frame with a wasm codec. `signed` is the DICOM Pixel Representation,
 * used when the codec does not say. Throws the codec's error (a number for emscripten
 * exceptions) as an Error with a readable message.
 */
export async function decodeWithWasm(codec: WasmCodec, bitstream: Uint8Array, signed: boolean): Promise<CodecFrame> {
  const Decoder = await loadWasmDecoder(codec);
  const d = new Decoder();
  try {
    d.getEncodedBuffer(bitstream.length).set(bitstream);
    try {
      d.decode();
    } catch (e) {
      throw new Error(`${codec} codec could not decode the frame (${typeof e === 'number' ? 'codec exception' : String(e)})`, { cause: e });
    }
    const info = d.getFrameInfo();
    const raw = d.getDecodedBuffer();
    const pixels = info.width * info.height;
    const isSigned = info.isSigned ?? signed;
    let samples: CodecFrame['samples'] = info.bitsPerSample > 8 ? bytesTo16(raw, isSigned) : isSigned ? Int16Array.from(new Int8Array(raw.slice().buffer)) : raw.slice();
    if (codec === 'jpeg-ls' && info.componentCount > 1 && d.getInterleaveMode?.() === 0) {
      samples = planarToInterleaved(samples, pixels, info.componentCount);
    }
    return { width: info.width, height: info.height, components: info.componentCount, samples };
  } finally {
    d.delete();
  }
}
