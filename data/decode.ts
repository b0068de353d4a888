import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { UserError } from '../core/errors.ts';
import { decodeDicom } from './dicom/read.ts';
import { isDicomPart10, rawDataSetSyntax } from './dicom/parse.ts';
import type { DecodedImage } from './image.ts';
import { decodeRaster, rasterFormat } from './raster/sharp.ts';

export type { DecodedImage } from './image.ts';
export { pixelStats } from './image.ts';

let decodes = 0;

/** How many images this thread has decoded so far (lets tests prove that a cache spared the work). */
export function decodeCount(): number {
  return decodes;
}

/**
 * Decodes an image held in memory: DICOM Part 10 (any transfer syntax of
 * data/dicom/transfer-syntax.ts) or a bare little-endian DICOM data set, PNG, JPEG, BMP or
 * TIFF, told apart by content, not name.
 * `name` labels error messages. Unreadable input raises a UserError naming it and the reason.
 */
export async function decodeImageBytes(input: Uint8Array, name: string): Promise<DecodedImage> {
  decodes++;
  // a plain view, not a Buffer: Buffer#slice shares memory where Uint8Array#slice copies
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (isDicomPart10(bytes)) return decodeDicom(bytes, name);
  const format = rasterFormat(bytes);
  if (format) return decodeRaster(bytes, format, name);
  const raw = rawDataSetSyntax(bytes);
  if (raw) return decodeDicom(bytes, name, raw);
  if (bytes.length === 0) throw new UserError(`${name}: empty file`);
  throw new UserError(`${name}: not DICOM (no "DICM" at byte 128) nor a PNG, JPEG, BMP or TIFF image`);
}

/** Reads and decodes an image file (see decodeImageBytes); a missing file is a UserError too. */
export async function decodeImageFile(file: string): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeImageBytes(bytes, file);
}

/** Reads an image file synchronously (cheaper in a worker thread), a missing file being a UserError. */
export function readImageBytesSync(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
