import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { analyzeChannels, type ChannelGraph } from '../../prune/graph.ts';
import { parseMasks, unitsKept } from '../../prune/masks.ts';
import { selectMasks } from '../../prune/select.ts';
import { buildToyNet } from './fixtures.ts';

/** input → conv 'a' (8) → conv 'b' (24) → conv 'c' (4, output). Kernels 1x1 over 2 input channels for 'a'. */
function chain(): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: [4, 4, 2] });
  const a = L.conv2d({ filters: 8, kernelSize: 1, name: 'a' }).apply(input) as tf.SymbolicTensor;
  const b = L.conv2d({ filters: 24, kernelSize: 1, name: 'b' }).apply(a) as tf.SymbolicTensor;
  const c = L.conv2d({ filters: 4, kernelSize: 1, name: 'c' }).apply(b) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: c });
}

const keptIdx = (m: boolean[]): number[] => m.flatMap((k, i) => (k ? [i] : []));
/** Scores 0..n-1 in a fixed shuffled order, so the expected survivors are known. */
const perm8 = [5, 0, 7, 2, 6, 1, 4, 3];

describe('selecting channels to prune', () => {
  let g: ChannelGraph;
  beforeAll(async () => {
    await initBackend('cpu');
    g = analyzeChannels(chain());
  });
  const bScores = Array.from({ length: 24 }, (_, i) => 100 + i);

  it('uniform: each layer keeps its highest-scored C − round(ratio·C) channels', () => {
    const m = selectMasks(g, { a: perm8, b: bScores }, { ratio: 0.5, criterion: 'l1' });
    expect(keptIdx(m.a)).toEqual([0, 2, 4, 6]); // scores 5, 7, 6, 4
    expect(keptIdx(m.b)).toEqual(Array.from({ length: 12 }, (_, i) => 12 + i));
    expect(m.c).toEqual([true, true, true, true]);
  });

  it('honours the per-layer minimum', () => {
    const m = selectMasks(g, { a: perm8, b: bScores }, { ratio: 0.9, criterion: 'l1', minChannels: 3 });
    expect(keptIdx(m.a)).toEqual([0, 2, 4]); // round(0.9·8)=7 removed → 1, raised to 3
    expect(m.b.filter(Boolean)).toHaveLength(3); // 24 − 22 = 2 kept → minimum 3 (0.1·24 → 3 as well)
  });

  it('rounds kept counts to a multiple of 8', () => {
    const m = selectMasks(g, { a: perm8, b: bScores }, { ratio: 0.3, criterion: 'l1', roundTo: 8 });
    expect(m.b.filter(Boolean)).toHaveLength(16); // 24 − 7 = 17 → 16
    expect(m.a.filter(Boolean)).toHaveLength(8); // 8 − 2 = 6 → 8
  });

  it('global: removes the model-wide lowest comparable scores (L1 / fan-in)', () => {
    // fan-in: a = 2 weights/filter, b = 8; mean |w| of a's filters is (perm8+1)/2 ≥ 0.5, of b's filters 0.01
    const a1 = perm8.map((s) => s + 1);
    const m = selectMasks(g, { a: a1, b: bScores.map(() => 0.08) }, { ratio: 0.5, criterion: 'l1', scope: 'global', minKeepFraction: 0.25 });
    // 16 of 32 channels go: b can lose 18 (keeps ≥ 6), so all 16 come from b
    expect(m.a.filter(Boolean)).toHaveLength(8);
    expect(m.b.filter(Boolean)).toHaveLength(8);
    const m2 = selectMasks(g, { a: a1, b: bScores.map(() => 0.08) }, { ratio: 0.7, criterion: 'l1', scope: 'global', minKeepFraction: 0.25 });
    // 22 of 32 go: 18 from b (down to 6), then a's 4 lowest (a1, a5, a3, a7)
    expect(m2.b.filter(Boolean)).toHaveLength(6);
    expect(keptIdx(m2.a)).toEqual([0, 2, 4, 6]);
  });

  it('keeps channels pruned by an earlier step pruned (iterative schedule)', () => {
    const first = selectMasks(g, { a: perm8, b: bScores }, { ratio: 0.25, criterion: 'l1' });
    expect(keptIdx(first.a)).toEqual([0, 2, 3, 4, 6, 7]);
    // new scores would favour a1 and a5 again, but they stay pruned
    const reversed = perm8.map((s) => 7 - s);
    const second = selectMasks(g, { a: reversed, b: bScores }, { ratio: 0.5, criterion: 'l1', previous: first });
    // free scores: a0=2, a2=0, a3=5, a4=1, a6=3, a7=4; keep 4 → a2 and a4 go as well
    expect(keptIdx(second.a)).toEqual([0, 3, 6, 7]);
  });

  it('gives tied producers (across a residual add) the same mask', () => {
    const toy = analyzeChannels(buildToyNet());
    const scores = { 'b1/pw': Array.from({ length: 12 }, (_, i) => (i * 7) % 12), 'res/conv': Array.from({ length: 12 }, () => 1) };
    const m = selectMasks(toy, scores, { ratio: 0.5, criterion: 'l2' });
    expect(m['b1/pw']).toEqual(m['res/conv']);
    expect(m['b1/pw'].filter(Boolean)).toHaveLength(6);
  });

  it('checks masks from the wire: names, lengths, ties, blocked channels', () => {
    const toy = analyzeChannels(buildToyNet());
    const keep12 = Array.from({ length: 12 }, (_, i) => i % 2 === 0);
    expect(unitsKept(toy, { 'b1/pw': keep12, 'res/conv': keep12 }).filter((k) => !k)).toHaveLength(6);
    expect(() => unitsKept(toy, { 'b1/pw': keep12, 'res/conv': keep12.map((k) => !k) })).toThrow(/disagrees/);
    expect(() => unitsKept(toy, { head: [false, true, true] })).toThrow(/cannot be pruned/);
    expect(() => unitsKept(toy, { 'b1/pw': [true] })).toThrow(/has 1 channels/);
    expect(() => unitsKept(toy, { nope: [true] })).toThrow(/not a prunable/);
    const sent = JSON.stringify(selectMasks(toy, {}, { ratio: 0.5, criterion: 'bn' }));
    expect(parseMasks(sent)['b1/pw']).toHaveLength(12);
    expect(() => parseMasks('{"a":[1,0]}')).toThrow(/booleans/);
  });
});
