import type { DataSet } from 'dicom-parser';

/**
 * Colour conversions of the Image Pixel module (PS3.3 C.7.6.3.1.2): YBR_FULL (and
 * YBR_FULL_422 once its chroma is expanded) to RGB, and PALETTE COLOR lookup.
 */

/** YCbCr (full range, ITU-R BT.601 coefficients as PS3.3 gives them) to RGB in place, rounded and clamped to 8 bits. */
export function ybrFullToRgb(px: Float32Array): void {
  for (let i = 0; i < px.length; i += 3) {
    const y = px[i];
    const cb = px[i + 1] - 128;
    const cr = px[i + 2] - 128;
    px[i] = clamp8(y + 1.402 * cr);
    px[i + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
    px[i + 2] = clamp8(y + 1.772 * cb);
  }
}

function clamp8(v: number): number {
  return Math.min(255, Math.max(0, Math.round(v)));
}

/** One palette colour lookup table (PS3.3 C.7.6.3.1.5): descriptor and 8-bit-scaled entries. */
interface PaletteLut {
  entries: number;
  firstMapped: number;
  table: Float32Array;
}

function readLut(ds: DataSet, descTag: string, dataTag: string, signedIndex: boolean): PaletteLut {
  const desc = ds.elements[descTag];
  const data = ds.elements[dataTag];
  if (!desc || !data) throw new Error(`PALETTE COLOR image lacks its lookup table (${descTag.slice(1)}/${dataTag.slice(1)})`);
  const entries = ds.uint16(descTag, 0) || 65536;
  const firstMapped = signedIndex ? (ds.int16(descTag, 1) ?? 0) : (ds.uint16(descTag, 1) ?? 0);
  const bits = ds.uint16(descTag, 2) ?? 16;
  const table = new Float32Array(entries);
  const bytes = ds.byteArray.subarray(data.dataOffset, data.dataOffset + data.length);
  const wide = data.length >= entries * 2;
  for (let i = 0; i < entries; i++) {
    const v = wide ? ds.uint16(dataTag, i) ?? 0 : bytes[i];
    table[i] = bits > 8 ? v >> 8 : v;
  }
  return { entries, firstMapped, table };
}

/**
 * Maps palette indices (one sample per pixel) to interleaved RGB through the Red, Green and
 * Blue Palette Colour LUTs; indices below the first mapped value take entry 0, above the
 * last take the last entry.
 */
export function applyPalette(ds: DataSet, indices: Float32Array, signedIndex: boolean): Float32Array {
  const luts = [
    readLut(ds, 'x00281101', 'x00281201', signedIndex),
    readLut(ds, 'x00281102', 'x00281202', signedIndex),
    readLut(ds, 'x00281103', 'x00281203', signedIndex),
  ];
  const out = new Float32Array(indices.length * 3);
  for (let i = 0; i < indices.length; i++) {
    for (let c = 0; c < 3; c++) {
      const l = luts[c];
      const k = Math.min(l.entries - 1, Math.max(0, indices[i] - l.firstMapped));
      out[i * 3 + c] = l.table[k];
    }
  }
  return out;
}
