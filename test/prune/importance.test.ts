import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { analyzeChannels } from '../../prune/graph.ts';
import { channelImportance, sliceNorms, sumScores } from '../../prune/importance.ts';

/**
 * input [4,4,2] → conv 1x1 'c1' (3 filters, hand-set kernel) → BN 'bn1' (hand-set γ) → ReLU
 * → dense-free head: conv 1x1 'c2' (2 filters, no BN) → GAP → dense 'out'.
 */
function tinyModel(): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: [4, 4, 2] });
  const c1 = L.conv2d({ filters: 3, kernelSize: 1, useBias: false, name: 'c1' }).apply(input) as tf.SymbolicTensor;
  const bn = L.batchNormalization({ name: 'bn1' }).apply(c1) as tf.SymbolicTensor;
  const r = L.reLU().apply(bn) as tf.SymbolicTensor;
  const c2 = L.conv2d({ filters: 2, kernelSize: 1, name: 'c2' }).apply(r) as tf.SymbolicTensor;
  const gap = L.globalAveragePooling2d({}).apply(c2) as tf.SymbolicTensor;
  const out = L.dense({ units: 2, name: 'out' }).apply(gap) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  // kernel [1,1,in=2,out=3]: filter c is (k[0][c], k[1][c])
  m.getLayer('c1').setWeights([tf.tensor([[[[1, -2, 0.5], [-3, 0.25, -0.5]]]])]);
  const bnW = m.getLayer('bn1').getWeights();
  m.getLayer('bn1').setWeights([tf.tensor([0.3, -1.2, 0.05]), ...bnW.slice(1)]);
  m.getLayer('c2').setWeights([tf.tensor([[[[2, 0], [0, -1], [1, 1]]]]), tf.tensor([7, 7])]);
  return m;
}

describe('channel importance', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('sliceNorms sums |x| or x² over every axis but the channel axis', () => {
    const data = Float32Array.from([1, -2, 3, -4, 5, -6]);
    expect(sliceNorms(data, [3, 2], 1, 1)).toEqual([9, 12]);
    expect(sliceNorms(data, [3, 2], 1, 2).map((x) => x * x)).toEqual([35, 56].map((x) => expect.closeTo(x, 10)));
    expect(sliceNorms(data, [3, 2], 0, 1)).toEqual([3, 7, 11]);
    expect(sliceNorms(data, [1, 3, 2], 1, 1)).toEqual([3, 7, 11]);
  });

  it('L1 is the filter’s sum of |w| (Li et al.), bias excluded', () => {
    const m = tinyModel();
    const s = channelImportance(m, analyzeChannels(m), 'l1');
    expect(s.c1).toEqual([4, 2.25, 1]);
    expect(s.c2).toEqual([3, 2]);
  });

  it('L2 is the filter’s Euclidean norm', () => {
    const m = tinyModel();
    const s = channelImportance(m, analyzeChannels(m), 'l2');
    expect(s.c1[0]).toBeCloseTo(Math.sqrt(10), 6);
    expect(s.c1[1]).toBeCloseTo(Math.sqrt(4.0625), 6);
    expect(s.c1[2]).toBeCloseTo(Math.sqrt(0.5), 6);
    expect(s.c2[1]).toBeCloseTo(Math.sqrt(2), 6);
  });

  it('BN-γ is |γ| of the BN after the producer; producers without BN are absent', () => {
    const m = tinyModel();
    const s = channelImportance(m, analyzeChannels(m), 'bn');
    expect(Object.keys(s)).toEqual(['c1']);
    expect(s.c1.map((x) => Number(x.toFixed(6)))).toEqual([0.3, 1.2, 0.05]);
  });

  it('sums site scores element-wise and rejects mismatched lengths', () => {
    expect(sumScores([{ a: [1, 2], b: [3] }, { a: [10, 20] }, { b: [0.5] }])).toEqual({ a: [11, 22], b: [3.5] });
    expect(() => sumScores([{ a: [1, 2] }, { a: [1] }])).toThrow(/expected 2/);
  });
});
