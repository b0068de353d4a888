import type { Box } from './box-prompt.ts';

/**
 * One of the eight symmetries of a square (the dihedral group D4): an optional left–right
 * flip, then `turns` quarter turns. Applied alike to an embedding map, its mask and its box
 * prompt, so a few-shot pair stays consistent under augmentation.
 */
export interface Dihedral {
  flip: boolean;
  turns: 0 | 1 | 2 | 3;
}

/** The identity. */
export const IDENTITY: Dihedral = { flip: false, turns: 0 };

/** Element `k` of the eight (0 = identity; k & 4 flips, k & 3 counts quarter turns). */
export function dihedral(k: number): Dihedral {
  return { flip: (k & 4) !== 0, turns: (k & 3) as Dihedral['turns'] };
}

/** Where the continuous point (x, y) of a side-`side` square goes: flip x ↦ side − x, then each turn (x, y) ↦ (y, side − x). */
export function mapPoint(d: Dihedral, x: number, y: number, side: number): [number, number] {
  let px = d.flip ? side - x : x;
  let py = y;
  for (let t = 0; t < d.turns; t++) [px, py] = [py, side - px];
  return [px, py];
}

/** The box's image under `d`: both corners mapped, then sorted (a box stays axis-aligned). */
export function mapBox(d: Dihedral, b: Box, side: number): Box {
  const [ax, ay] = mapPoint(d, b.x0, b.y0, side);
  const [bx, by] = mapPoint(d, b.x1, b.y1, side);
  return { x0: Math.min(ax, bx), x1: Math.max(ax, bx), y0: Math.min(ay, by), y1: Math.max(ay, by) };
}

/**
 * An HWC map (side × side × channels, row-major) moved by `d`: the pixel whose centre is at
 * (x + ½, y + ½) lands on the pixel whose centre is that point's image. Returns a new array.
 */
export function mapGrid(d: Dihedral, src: Float32Array, side: number, channels: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const [cx, cy] = mapPoint(d, x + 0.5, y + 0.5, side);
      const to = (Math.floor(cy) * side + Math.floor(cx)) * channels;
      const from = (y * side + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = src[from + c];
    }
  }
  return out;
}
