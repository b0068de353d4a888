import { decodeImageBytes, readImageBytesSync } from '../decode.ts';
import type { PreprocessConfig } from './config.ts';
import { preprocessImage, preprocessMask } from './preprocess.ts';

/** The preprocessed tensors of one dataset row, and how many decodes producing them took. */
export interface PreprocessedItem {
  x: Float32Array;
  mask: Float32Array | null;
  decodes: number;
}

/** Decodes and preprocesses one image (and its mask, resized the same way, nearest). */
export async function preprocessFile(file: string, mask: string | null, cfg: PreprocessConfig): Promise<PreprocessedItem> {
  const img = await decodeImageBytes(readImageBytesSync(file), file);
  const x = preprocessImage(img, cfg);
  const m = mask ? preprocessMask(await decodeImageBytes(readImageBytesSync(mask), mask), cfg, img) : null;
  return { x, mask: m, decodes: mask ? 2 : 1 };
}
