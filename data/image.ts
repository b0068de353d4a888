/**
 * What decoding any site image yields (DICOM, PNG, JPEG, BMP, TIFF). Pixel values are
 * floats after the modality LUT (Rescale Slope/Intercept) and before any VOI window.
 */
export interface DecodedImage {
  /** The file name or label the bytes came from, for messages. */
  source: string;
  format: 'dicom' | 'png' | 'jpeg' | 'bmp' | 'tiff';
  rows: number;
  columns: number;
  frames: number;
  /** Samples per pixel as stored (1 for PALETTE COLOR, though `pixels` holds RGB). */
  samplesPerPixel: number;
  /** Channels in `pixels`: 1 (grey) or 3 (RGB, whatever the stored colour space). */
  channels: 1 | 3;
  /** Photometric interpretation as stored (MONOCHROME1 stays MONOCHROME1; see `invert`). */
  photometric: string;
  /** Transfer syntax UID (DICOM), or null for other formats. */
  transferSyntax: string | null;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  /** One array per frame, rows·columns·channels values, pixel-interleaved, after the modality LUT. */
  pixels: Float32Array[];
  /** True for MONOCHROME1: low values are bright, so display and training invert them. */
  invert: boolean;
  /** Modality LUT applied to stored values: out = slope · stored + intercept. */
  rescale: { slope: number; intercept: number };
  /** VOI windows the file suggests (Window Center/Width), in output units. */
  windows: { center: number; width: number }[];
  /** Physical size of a pixel [row spacing, column spacing] in mm, when known. */
  pixelSpacing: [number, number] | null;
  /** DICOM Modality (e.g. CR, CT), or null. */
  modality: string | null;
}

/** Minimum, maximum and mean over every pixel value of every frame and channel. */
export function pixelStats(img: DecodedImage): { min: number; max: number; mean: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (const f of img.pixels) {
    for (let i = 0; i < f.length; i++) {
      const v = f[i];
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    n += f.length;
  }
  return { min, max, mean: n ? sum / n : 0 };
}
