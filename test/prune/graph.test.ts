import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { analyzeChannels, type ChannelGraph } from '../../prune/graph.ts';
import { buildToyNet } from './fixtures.ts';

/** Producer channel each node of a layer's first input comes from (undefined for blocked sources). */
function inputSources(g: ChannelGraph, layer: string): (string | undefined)[] {
  const l = g.layers.find((x) => x.name === layer)!;
  return l.inputs[0].map((n) => {
    const m = g.units[g.nodeUnit[n]].members;
    return m.length ? m.map((x) => `${x.layer}:${x.channel}`).join('|') : undefined;
  });
}

const blockedCount = (g: ChannelGraph, producer: string): number => g.producers.get(producer)!.units.filter((u) => g.units[u].blocked).length;

describe('channel groups follow the layer graph', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('groups conv+BN+depthwise, ties the residual add, and blocks only the head', () => {
    const g = analyzeChannels(buildToyNet());
    expect(g.groups.map((x) => [x.producers, x.units.length])).toEqual([
      [['stem/conv'], 8],
      [['b1/pw', 'res/conv'], 12],
      [['side/conv'], 6],
      [['mix/conv'], 10],
      [['fc1'], 16],
      [['head'], 3],
    ]);
    expect(['stem/conv', 'b1/pw', 'res/conv', 'side/conv', 'mix/conv', 'fc1'].map((p) => blockedCount(g, p))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(blockedCount(g, 'head')).toBe(3);
    // the residual add ties channel c of b1/pw with channel c of res/conv: one unit, two members
    const res = g.groups[1].units.map((u) => g.units[u].members.map((m) => `${m.layer}:${m.channel}`));
    expect(res[5]).toEqual(['b1/pw:5', 'res/conv:5']);
  });

  it('passes stem channels through BN, ReLU and the depthwise conv into the pointwise conv', () => {
    const g = analyzeChannels(buildToyNet());
    const expected = Array.from({ length: 8 }, (_, c) => `stem/conv:${c}`);
    expect(inputSources(g, 'b1/dw')).toEqual(expected);
    expect(inputSources(g, 'b1/dw_bn')).toEqual(expected);
    expect(inputSources(g, 'b1/pw')).toEqual(expected);
  });

  it('offsets channel indices across the concatenation', () => {
    const src = inputSources(analyzeChannels(buildToyNet()), 'mix/conv');
    expect(src).toHaveLength(18);
    expect(src[3]).toBe('b1/pw:3|res/conv:3');
    expect(src[12]).toBe('side/conv:0');
    expect(src[17]).toBe('side/conv:5');
  });

  it('maps dense rows after an NHWC flatten to channel k mod C', () => {
    const src = inputSources(analyzeChannels(buildToyNet()), 'fc1');
    // pool output 3x3x10 → 90 rows; row k is channel k % 10
    expect(src).toHaveLength(90);
    expect(src[0]).toBe('mix/conv:0');
    expect(src[13]).toBe('mix/conv:3');
    expect(src[89]).toBe('mix/conv:9');
  });

  it('excludes the stem, the head inputs and named layers on request', () => {
    const g = analyzeChannels(buildToyNet(), { excludeStem: true, excludeHead: true, exclude: ['side/conv'] });
    expect(blockedCount(g, 'stem/conv')).toBe(8);
    expect(blockedCount(g, 'fc1')).toBe(16);
    expect(blockedCount(g, 'side/conv')).toBe(6);
    expect(blockedCount(g, 'b1/pw')).toBe(0);
    expect(() => analyzeChannels(buildToyNet(), { exclude: ['nope'] })).toThrow(/no layer named 'nope'/);
  });

  it('never prunes through a layer that would not keep a zero channel zero, nor across a residual from the input', () => {
    const L = tf.layers;
    const input = tf.input({ shape: [8, 8, 4] });
    const a = L.conv2d({ filters: 4, kernelSize: 1, name: 'a' }).apply(input) as tf.SymbolicTensor;
    const sig = L.activation({ activation: 'sigmoid', name: 'sig' }).apply(a) as tf.SymbolicTensor;
    const b = L.conv2d({ filters: 4, kernelSize: 1, name: 'b' }).apply(sig) as tf.SymbolicTensor;
    const fromInput = L.add({ name: 'skip' }).apply([b, input]) as tf.SymbolicTensor;
    const c = L.conv2d({ filters: 5, kernelSize: 1, name: 'c' }).apply(fromInput) as tf.SymbolicTensor;
    const d = L.conv2d({ filters: 6, kernelSize: 1, name: 'd' }).apply(c) as tf.SymbolicTensor;
    const g = analyzeChannels(tf.model({ inputs: input, outputs: d }));
    expect(blockedCount(g, 'a')).toBe(4); // sigmoid(0) = 0.5: a zeroed channel would not vanish
    expect(blockedCount(g, 'b')).toBe(4); // tied to the model input
    expect(blockedCount(g, 'c')).toBe(0);
    expect(blockedCount(g, 'd')).toBe(6); // model output
  });

  it('treats a layer shared by two branches as opaque, and ignores nodes a layer has in another model', () => {
    const L = tf.layers;
    const input = tf.input({ shape: [6, 6, 3] });
    const a = L.conv2d({ filters: 4, kernelSize: 1, name: 'a' }).apply(input) as tf.SymbolicTensor;
    const shared = L.conv2d({ filters: 5, kernelSize: 1, name: 'shared' });
    const b1 = shared.apply(a) as tf.SymbolicTensor;
    const c = L.conv2d({ filters: 4, kernelSize: 1, name: 'c' }).apply(a) as tf.SymbolicTensor;
    const b2 = shared.apply(c) as tf.SymbolicTensor;
    const sum = L.add({}).apply([b1, b2]) as tf.SymbolicTensor;
    const d = L.conv2d({ filters: 2, kernelSize: 1, name: 'd' }).apply(sum) as tf.SymbolicTensor;
    const g = analyzeChannels(tf.model({ inputs: input, outputs: d }));
    expect(g.layers.find((l) => l.name === 'shared')?.kind).toBe('opaque');
    expect(blockedCount(g, 'a')).toBe(4); // feeds the shared layer
    expect(blockedCount(g, 'c')).toBe(4);

    const first = tf.model({ inputs: input, outputs: c });
    const again = tf.model({ inputs: input, outputs: L.dense({ units: 2 }).apply(L.flatten().apply(c)) as tf.SymbolicTensor });
    expect(blockedCount(analyzeChannels(first), 'c')).toBe(4); // output of the first model
    expect(blockedCount(analyzeChannels(again), 'c')).toBe(0); // prunable in the second
  });

  it('analyses a Sequential model', () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 6, kernelSize: 3, name: 's1' }),
        tf.layers.batchNormalization({ name: 'sbn' }),
        tf.layers.flatten({}),
        tf.layers.dense({ units: 2, name: 'sout' }),
      ],
    });
    const g = analyzeChannels(m);
    expect(g.groups.map((x) => x.producers)).toEqual([['s1'], ['sout']]);
    expect(inputSources(g, 'sout')[7]).toBe('s1:1');
  });
});
