/**
 * A decoded picture as the server sees it, whatever decoded it (data/ in the CLI wiring):
 * `channels` values per pixel, interleaved, row-major, in the image's own units.
 */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Float32Array;
  /** The VOI window to map to [0, 1]; default: the pixels' min–max. */
  window?: { center: number; width: number };
  /** True when low values are bright (DICOM MONOCHROME1). */
  invert?: boolean;
  /**
   * The preprocessing the model was trained with, giving its input [C, H, W] (NCHW without the
   * batch axis); the CLI wires data/'s here. Without it, toModelInput is used.
   */
  toInput?: (shape: readonly [number, number, number]) => Float32Array;
  /** Where the image lies in that input, in input pixels (a padded, aspect-kept placement); default: all of it. */
  inputRegion?: (shape: readonly [number, number, number]) => Region;
}

/** A rectangle in pixels; fractional edges allowed. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The greyscale preview the web page windows itself: quantised to 16 bits over [min, max]. */
export interface DisplayImage {
  width: number;
  height: number;
  min: number;
  max: number;
  window: { center: number; width: number };
  invert: boolean;
  /** Base64 of little-endian Uint16 samples, 0 ↔ min and 65535 ↔ max. */
  pixels: string;
}

/** Longest side of the preview sent to the page. */
export const DISPLAY_MAX_SIDE = 512;

function grey(img: RasterImage): Float32Array {
  if (img.channels === 1) return img.pixels;
  const out = new Float32Array(img.width * img.height);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * img.pixels[3 * i] + 0.587 * img.pixels[3 * i + 1] + 0.114 * img.pixels[3 * i + 2];
  return out;
}

function range(a: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of a) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** The image's window, or its min–max when it has none. */
export function windowOf(img: RasterImage): { center: number; width: number } {
  if (img.window && img.window.width > 0) return img.window;
  const { min, max } = range(img.pixels);
  return { center: (min + max) / 2, width: Math.max(max - min, 1e-6) };
}

/** Source index and weight of each output coordinate along one axis (pixel-centre sampling). */
function axisTaps(n: number, N: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(N);
  const i1 = new Int32Array(N);
  const f = new Float32Array(N);
  const scale = n / N;
  for (let x = 0; x < N; x++) {
    const fx = Math.min(Math.max((x + 0.5) * scale - 0.5, 0), n - 1);
    i0[x] = Math.floor(fx);
    i1[x] = Math.min(i0[x] + 1, n - 1);
    f[x] = fx - i0[x];
  }
  return { i0, i1, f };
}

/** Samples one channel plane bilinearly at pixel centres: [h, w] → [H, W] (identity when equal). */
export function resizeBilinear(src: Float32Array, w: number, h: number, W: number, H: number, stride = 1, offset = 0): Float32Array {
  const out = new Float32Array(W * H);
  if (w === W && h === H) {
    for (let i = 0; i < out.length; i++) out[i] = src[i * stride + offset];
    return out;
  }
  const xs = axisTaps(w, W);
  const ys = axisTaps(h, H);
  for (let y = 0; y < H; y++) {
    const r0 = ys.i0[y] * w;
    const r1 = ys.i1[y] * w;
    const dy = ys.f[y];
    for (let x = 0; x < W; x++) {
      const a = xs.i0[x];
      const b = xs.i1[x];
      const dx = xs.f[x];
      const top = (1 - dx) * src[(r0 + a) * stride + offset] + dx * src[(r0 + b) * stride + offset];
      const bottom = (1 - dx) * src[(r1 + a) * stride + offset] + dx * src[(r1 + b) * stride + offset];
      out[y * W + x] = (1 - dy) * top + dy * bottom;
    }
  }
  return out;
}

/**
 * The model's input for one image, NCHW without the batch axis: the VOI window mapped to
 * [0, 1] (clamped, inverted for MONOCHROME1), resized bilinearly to H×W, grey repeated to 3
 * channels or RGB turned to luma for 1: the stand-in when the image brings no `toInput`.
 */
export function toModelInput(img: RasterImage, shape: readonly [number, number, number]): Float32Array {
  if (img.toInput) return img.toInput(shape);
  const [c, h, w] = shape;
  const win = windowOf(img);
  const lo = win.center - win.width / 2;
  const out = new Float32Array(c * h * w);
  const planes = c === 3 && img.channels === 3 ? [0, 1, 2].map((o) => resizeBilinear(img.pixels, img.width, img.height, w, h, 3, o)) : [resizeBilinear(grey(img), img.width, img.height, w, h)];
  for (let ch = 0; ch < c; ch++) {
    const p = planes[Math.min(ch, planes.length - 1)];
    for (let i = 0; i < h * w; i++) {
      const u = Math.min(1, Math.max(0, (p[i] - lo) / win.width));
      out[ch * h * w + i] = img.invert ? 1 - u : u;
    }
  }
  return out;
}

/** A greyscale preview of at most DISPLAY_MAX_SIDE per side, for the page to window. */
export function toDisplay(img: RasterImage): DisplayImage {
  const s = Math.min(1, DISPLAY_MAX_SIDE / Math.max(img.width, img.height));
  const W = Math.max(1, Math.round(img.width * s));
  const H = Math.max(1, Math.round(img.height * s));
  const g = resizeBilinear(grey(img), img.width, img.height, W, H);
  const { min, max } = range(g);
  const span = max - min || 1;
  const bytes = Buffer.alloc(2 * g.length);
  for (let i = 0; i < g.length; i++) bytes.writeUInt16LE(Math.round(((g[i] - min) / span) * 65535), 2 * i);
  return { width: W, height: H, min, max, window: windowOf(img), invert: Boolean(img.invert), pixels: bytes.toString('base64') };
}
