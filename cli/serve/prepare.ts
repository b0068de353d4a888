// The serving path's image work, CLI wiring of data/ into runtime/: decode (a zlib-only fast
// path for plain grey PNGs), data/'s training preprocessing, the aspect-kept region. It runs in
// the event loop's thread or in runtime/decode-pool.ts's workers (which load this module).
import { decodeImageBytes, type DecodedImage } from '../../data/decode.ts';
import { parsePreprocess, preprocessImage, type PreprocessConfig, type PreprocessInput } from '../../data/index.ts';
import { placeImage } from '../../data/preprocess/preprocess.ts';
import { toModelInput, type RasterImage } from '../../runtime/input.ts';
import { decodeGreyPng } from '../../runtime/png.ts';
import { prepareWith, type PrepareImage } from '../../runtime/prepare.ts';

/** Preprocessing fields a repository's `preprocess.json` / `.yaml` may set (size and channels come from the model). */
export type ServingPreprocess = Omit<PreprocessInput, 'size' | 'channels'>;

/**
 * Decodes posted bytes as data/'s decodeImageBytes does, but reads a plain 8/16-bit grey PNG
 * with runtime/png.ts's zlib-only decoder instead of a sharp pipeline (same samples, tested).
 */
export async function decodeForServing(bytes: Uint8Array, name: string): Promise<DecodedImage> {
  const png = decodeGreyPng(bytes);
  if (!png) return decodeImageBytes(bytes, name);
  return {
    source: name,
    format: 'png',
    rows: png.height,
    columns: png.width,
    frames: 1,
    samplesPerPixel: 1,
    channels: 1,
    photometric: 'MONOCHROME2',
    transferSyntax: null,
    bitsAllocated: png.bitDepth,
    bitsStored: png.bitDepth,
    signed: false,
    pixels: [Float32Array.from(png.samples)],
    invert: false,
    rescale: { slope: 1, intercept: 0 },
    windows: [],
    pixelSpacing: null,
    modality: null,
  };
}

/** HWC (data/'s layout) → CHW (the ONNX input's). */
function hwcToChw(x: Float32Array, c: number, hw: number): Float32Array {
  if (c === 1) return x;
  const out = new Float32Array(x.length);
  for (let i = 0; i < hw; i++) for (let k = 0; k < c; k++) out[k * hw + i] = x[i * c + k];
  return out;
}

/** Parsed configs per model input (size, channels), so a request does not re-run zod. */
const parsed = new WeakMap<ServingPreprocess, Map<string, PreprocessConfig>>();

function configFor(pre: ServingPreprocess, size: number, channels: number): PreprocessConfig {
  let byShape = parsed.get(pre);
  if (!byShape) parsed.set(pre, (byShape = new Map()));
  const key = `${size}x${channels}`;
  let cfg = byShape.get(key);
  if (!cfg) byShape.set(key, (cfg = parsePreprocess({ ...pre, size, channels })));
  return cfg;
}

/**
 * data/'s decoded image as the server's raster: the first frame and the window data/ would
 * pick, for display; the model input comes from data/'s preprocessImage (as in training) for a
 * square input of at least 4×4 (data/'s minimum), else from the runtime's stand-in.
 */
export function toRaster(img: DecodedImage, pre: ServingPreprocess = {}): RasterImage {
  const window = img.windows[0] ?? (img.format === 'dicom' ? undefined : { center: (2 ** img.bitsStored - 1) / 2, width: 2 ** img.bitsStored - 1 });
  const raster: RasterImage = { width: img.columns, height: img.rows, channels: img.channels, pixels: img.pixels[0], window, invert: img.invert };
  const usesData = (c: number, h: number, w: number) => h === w && h >= 4 && (c === 1 || c === 3);
  raster.toInput = ([c, h, w]) => {
    if (!usesData(c, h, w)) return toModelInput({ ...raster, toInput: undefined }, [c, h, w]);
    return hwcToChw(preprocessImage(img, configFor(pre, h, c)), c, h * w);
  };
  raster.inputRegion = ([c, h, w]) => {
    if (!usesData(c, h, w)) return { x: 0, y: 0, width: w, height: h };
    const p = placeImage(img, configFor(pre, h, c));
    return { x: p.offX, y: p.offY, width: img.columns * p.scaleX, height: img.rows * p.scaleY };
  };
  return raster;
}

/** What `fedkd serve` passes to each decode worker. */
export interface PrepareOptions {
  preprocess?: ServingPreprocess;
}

/** The whole per-request image path for `fedkd serve` (the entry runtime/decode-pool.ts's workers call). */
export function createPrepare(options: PrepareOptions = {}): PrepareImage {
  const pre = options.preprocess ?? {};
  return prepareWith(async (bytes, name) => toRaster(await decodeForServing(bytes, name), pre));
}
