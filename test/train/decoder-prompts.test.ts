import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { boxOfMask, jitterBox, medsamJitter, rasterizeBox } from '../../train/box-prompt.ts';
import { decoderSet, makeDecoderBatch } from '../../train/decoder-data.ts';
import { dihedral, mapBox, mapGrid } from '../../train/dihedral.ts';
import { iou } from '../../train/mask-decoder-train.ts';
import { dice } from '../../train/metrics.ts';

/** An S×S mask with the pixels of rectangle [x0, x1) × [y0, y1) set. */
function rectMask(s: number, x0: number, y0: number, x1: number, y1: number): Float32Array {
  const m = new Float32Array(s * s);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * s + x] = 1;
  return m;
}

describe('box prompts', () => {
  it('finds the tight box of a mask (exclusive far edges), none for an empty mask', () => {
    const m = new Float32Array(36);
    m[1 * 6 + 2] = 1;
    m[3 * 6 + 4] = 1;
    expect(boxOfMask(m, 6)).toEqual({ x0: 2, y0: 1, x1: 5, y1: 4 });
    expect(boxOfMask(new Float32Array(36), 6)).toBeUndefined();
  });

  it('rasterises fractional edges as covered area', () => {
    const r = rasterizeBox({ x0: 0.5, y0: 1, x1: 2, y1: 2.25 }, 3);
    // rows: y=0 outside; y=1 full; y=2 a quarter. cols: x=0 half, x=1 full, x=2 outside
    expect(Array.from(r)).toEqual([0, 0, 0, 0.5, 1, 0, 0.125, 0.25, 0]);
  });

  it('jitters each edge by at most maxPx, seeded, staying inside the image', () => {
    const b = { x0: 10, y0: 12, x1: 20, y1: 30 };
    const a1 = jitterBox(b, 3, 64, new Rng(5));
    expect(jitterBox(b, 3, 64, new Rng(5))).toEqual(a1);
    const rng = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const j = jitterBox(b, 3, 64, rng);
      for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(Math.abs(j[k] - b[k])).toBeLessThanOrEqual(3);
    }
    const edge = jitterBox({ x0: 0, y0: 0, x1: 1, y1: 1 }, 5, 8, new Rng(2));
    expect(edge.x0).toBeGreaterThanOrEqual(0);
    expect(edge.x1 - edge.x0).toBeGreaterThanOrEqual(1 - 1e-9);
    expect(medsamJitter(1024)).toBe(20);
    expect(medsamJitter(64)).toBe(1.25);
  });
});

describe('dihedral moves', () => {
  it('turn a 2×3 pattern a quarter turn as worked out by hand', () => {
    // 3×3 grid, values = index; one turn maps (x, y) ↦ (y, 3 − x) on centres
    const src = Float32Array.from({ length: 9 }, (_, i) => i);
    const out = mapGrid(dihedral(1), src, 3, 1);
    // pixel (x=0,y=0) → centre (0.5,0.5) → (0.5, 2.5) → pixel (x=0,y=2)
    expect(out[2 * 3 + 0]).toBe(0);
    expect(Array.from(out)).toEqual([2, 5, 8, 1, 4, 7, 0, 3, 6]);
    expect(Array.from(mapGrid(dihedral(4), src, 3, 1))).toEqual([2, 1, 0, 5, 4, 3, 8, 7, 6]);
  });

  it('move a mask and its box alike, for all eight elements; four turns are the identity', () => {
    const m = rectMask(10, 1, 2, 4, 7);
    for (let k = 0; k < 8; k++) {
      const d = dihedral(k);
      expect(boxOfMask(mapGrid(d, m, 10, 1), 10), `element ${k}`).toEqual(mapBox(d, boxOfMask(m, 10)!, 10));
    }
    let g: Float32Array = Float32Array.from({ length: 4 * 4 * 2 }, (_, i) => i);
    const start = Array.from(g);
    for (let t = 0; t < 4; t++) g = mapGrid(dihedral(1), g, 4, 2);
    expect(Array.from(g)).toEqual(start);
  });

  it('keep embedding, mask and box consistent inside an augmented batch', () => {
    const s = 8;
    const h = 4;
    const n = 3;
    const maps = Float32Array.from({ length: n * h * h * 2 }, (_, i) => i);
    const masks = new Float32Array(n * s * s);
    masks.set(rectMask(s, 1, 0, 3, 5), 0);
    masks.set(rectMask(s, 4, 4, 8, 6), s * s);
    masks.set(rectMask(s, 0, 6, 2, 8), 2 * s * s);
    const source = { header: { n, height: h, width: h, channels: 2, imageSize: s } as never, masks, row: (i: number): Float32Array => maps.slice(i * h * h * 2, (i + 1) * h * h * 2) };
    const set = decoderSet(source);
    const b = makeDecoderBatch(set, [0, 1, 2, 0, 1, 2], { dihedral: true, jitterPx: 0, noise: 0 }, new Rng(4));
    const emb = b.embedding.dataSync();
    const box = b.box.dataSync();
    const msk = b.masks.dataSync();
    const seen = new Set<number>();
    [0, 1, 2, 0, 1, 2].forEach((row, i) => {
      const gotMask = msk.slice(i * s * s, (i + 1) * s * s);
      // the box channel is the rasterised box of the moved mask
      expect(Array.from(box.slice(i * s * s, (i + 1) * s * s))).toEqual(Array.from(rasterizeBox(boxOfMask(gotMask, s)!, s)));
      // the element that moved the mask moved the embedding map too
      const k = [...Array(8).keys()].find((e) => Array.from(mapGrid(dihedral(e), masks.slice(row * s * s, (row + 1) * s * s), s, 1)).join() === Array.from(gotMask).join());
      expect(k).toBeDefined();
      expect(Array.from(emb.slice(i * h * h * 2, (i + 1) * h * h * 2))).toEqual(Array.from(mapGrid(dihedral(k!), source.row(row), h, 2)));
      seen.add(k!);
    });
    expect(seen.size).toBeGreaterThan(1);
    [b.embedding, b.box, b.masks].forEach((t) => t.dispose());
  });
});

describe('mask metrics', () => {
  it('IoU and Dice by hand', () => {
    const p = [1, 1, 0, 0, 1];
    const g = [1, 0, 0, 1, 1];
    // |P∩G| = 2, |P∪G| = 4, |P| + |G| = 6
    expect(iou(p, g)).toBe(0.5);
    expect(dice(p, g)).toBeCloseTo(4 / 6, 12);
    expect(iou([0, 0], [0, 0])).toBe(1);
  });
});
