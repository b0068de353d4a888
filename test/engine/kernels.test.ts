import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BACKENDS, REL_TOL, onBackend, relError, seeded } from './compare.ts';
import { conv2dFilterGrad, depthwiseFilterGrad, depthwiseInputGrad, geometry, maxPoolGrad, upsampleGrad } from './reference.ts';

type Shape4 = [number, number, number, number];

/** One convolution configuration: input shape, kernel, output channels (or multiplier), strides, padding. */
interface Case {
  x: Shape4;
  k: [number, number];
  out: number;
  strides: [number, number];
  pad: 'same' | 'valid';
}

const CONV_CASES: Case[] = [
  { x: [2, 7, 7, 3], k: [3, 3], out: 4, strides: [1, 1], pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], out: 5, strides: [2, 2], pad: 'same' },
  { x: [1, 9, 9, 2], k: [3, 3], out: 3, strides: [2, 2], pad: 'valid' },
  { x: [2, 6, 6, 4], k: [1, 1], out: 5, strides: [1, 1], pad: 'valid' },
  { x: [1, 10, 8, 3], k: [5, 3], out: 2, strides: [2, 1], pad: 'same' },
  { x: [3, 5, 5, 1], k: [2, 2], out: 16, strides: [2, 2], pad: 'same' },
  { x: [2, 7, 7, 6], k: [3, 3], out: 5, strides: [1, 1], pad: 'same' },
  { x: [1, 9, 8, 5], k: [3, 3], out: 4, strides: [1, 1], pad: 'valid' },
  { x: [2, 6, 6, 8], k: [3, 3], out: 3, strides: [2, 1], pad: 'same' },
  { x: [1, 8, 9, 4], k: [4, 2], out: 6, strides: [1, 1], pad: 'same' },
];

/** For depthwise cases `out` is the channel multiplier. */
const DEPTHWISE_CASES: Case[] = [
  { x: [2, 7, 7, 3], k: [3, 3], out: 1, strides: [1, 1], pad: 'same' },
  { x: [2, 8, 8, 4], k: [3, 3], out: 1, strides: [2, 2], pad: 'same' },
  { x: [1, 9, 9, 2], k: [3, 3], out: 1, strides: [2, 2], pad: 'valid' },
  { x: [1, 8, 8, 3], k: [5, 5], out: 1, strides: [2, 2], pad: 'same' },
  { x: [2, 6, 5, 3], k: [3, 3], out: 2, strides: [1, 1], pad: 'same' },
  { x: [1, 7, 6, 2], k: [2, 3], out: 3, strides: [2, 1], pad: 'valid' },
  { x: [2, 9, 9, 16], k: [3, 3], out: 1, strides: [1, 2], pad: 'same' },
];

const label = (c: Case): string => `x=${c.x} k=${c.k} out=${c.out} s=${c.strides} ${c.pad}`;

/** Runs a kernel directly through the engine on the current backend and reads the result. */
function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: object): Float32Array {
  return tf.tidy(() => (tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array);
}

/** Results of one case on every backend, plus the float64 reference. */
async function acrossBackends(ref: Float64Array, f: () => Float32Array): Promise<void> {
  const got: Record<string, Float32Array> = {};
  for (const b of BACKENDS) got[b] = await onBackend(b, f);
  expect(relError(got.cpu, ref)).toBeLessThan(REL_TOL);
  expect(relError(got.wasm, ref)).toBeLessThan(REL_TOL);
  expect(relError(got.wasm, got.cpu)).toBeLessThan(REL_TOL);
}

describe('Conv2DBackpropFilter (fedkd wasm kernel) against cpu and a float64 reference', () => {
  it.each(CONV_CASES)('$x k$k s$strides $pad', async (c) => {
    const g = geometry(c.x, c.k[0], c.k[1], c.out, c.strides, c.pad);
    const x = seeded(c.x, 1);
    const dy = seeded([g.n, g.oh, g.ow, c.out], 2);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: [c.k[0], c.k[1], c.x[3], c.out] };
    await acrossBackends(conv2dFilterGrad(x, dy, g), () =>
      runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(x, c.x), dy: tf.tensor4d(dy, [g.n, g.oh, g.ow, c.out]) }, attrs),
    );
  });
});

describe('DepthwiseConv2dNativeBackpropFilter (fedkd wasm kernel)', () => {
  it.each(DEPTHWISE_CASES)('$x k$k q$out s$strides $pad', async (c) => {
    const co = c.x[3] * c.out;
    const g = geometry(c.x, c.k[0], c.k[1], co, c.strides, c.pad);
    const x = seeded(c.x, 3);
    const dy = seeded([g.n, g.oh, g.ow, co], 4);
    const attrs = { strides: c.strides, pad: c.pad, dilations: [1, 1], filterShape: [c.k[0], c.k[1], c.x[3], c.out] };
    await acrossBackends(depthwiseFilterGrad(x, dy, g), () =>
      runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(x, c.x), dy: tf.tensor4d(dy, [g.n, g.oh, g.ow, co]) }, attrs),
    );
  });
});

describe('DepthwiseConv2dNativeBackpropInput (fedkd wasm kernel)', () => {
  it.each(DEPTHWISE_CASES)('$x k$k q$out s$strides $pad', async (c) => {
    const co = c.x[3] * c.out;
    const g = geometry(c.x, c.k[0], c.k[1], co, c.strides, c.pad);
    const dy = seeded([g.n, g.oh, g.ow, co], 5);
    const fShape: Shape4 = [c.k[0], c.k[1], c.x[3], c.out];
    const f = seeded(fShape, 6);
    const attrs = { strides: c.strides, pad: c.pad, dilations: [1, 1], inputShape: c.x };
    await acrossBackends(depthwiseInputGrad(dy, f, g), () =>
      runKernel('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor4d(dy, [g.n, g.oh, g.ow, co]), filter: tf.tensor4d(f, fShape) }, attrs),
    );
  });
});

const POOL_CASES: Case[] = [
  { x: [2, 8, 8, 3], k: [2, 2], out: 3, strides: [2, 2], pad: 'valid' },
  { x: [1, 7, 7, 4], k: [3, 3], out: 4, strides: [2, 2], pad: 'same' },
  { x: [2, 6, 5, 2], k: [3, 2], out: 2, strides: [1, 1], pad: 'same' },
];

describe('maxPool gradient (tfjs-backend-wasm 4.22 gets it wrong for more than one channel; fedkd replaces it)', () => {
  it.each(POOL_CASES)('$x pool$k s$strides $pad', async (c) => {
    const g = geometry(c.x, c.k[0], c.k[1], c.x[3], c.strides, c.pad);
    const x = seeded(c.x, 13);
    const dy = seeded([g.n, g.oh, g.ow, g.c], 14);
    await acrossBackends(maxPoolGrad(x, dy, g), () =>
      tf.tidy(() => {
        const r = tf.tensor4d(dy, [g.n, g.oh, g.ow, g.c]);
        const f = (xi: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.maxPool(xi as tf.Tensor4D, c.k, c.strides, c.pad), r));
        return tf.grad(f)(tf.tensor4d(x, c.x)).dataSync() as Float32Array;
      }),
    );
  });
});

describe('nearest-neighbour upsampling gradient (tfjs-backend-cpu 4.22 gets it wrong for batch > 1; fedkd replaces it)', () => {
  it.each([
    { x: [2, 5, 4, 3] as Shape4, f: [2, 2] },
    { x: [3, 3, 3, 2] as Shape4, f: [3, 2] },
  ])('$x by $f', async ({ x: shape, f }) => {
    const x = seeded(shape, 15);
    const outShape: Shape4 = [shape[0], shape[1] * f[0], shape[2] * f[1], shape[3]];
    const dy = seeded(outShape, 16);
    await acrossBackends(upsampleGrad(dy, shape, f[0], f[1]), () =>
      tf.tidy(() => {
        const r = tf.tensor4d(dy, outShape);
        const up = (xi: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(xi as tf.Tensor4D, [outShape[1], outShape[2]]), r));
        return tf.grad(up)(tf.tensor4d(x, shape)).dataSync() as Float32Array;
      }),
    );
  });
});

describe('nearest-neighbour resize gradient with corner options, against the forward pass read as a selection', () => {
  it.each([
    { from: [5, 4], to: [7, 9], alignCorners: false, halfPixelCenters: false },
    { from: [5, 4], to: [7, 9], alignCorners: true, halfPixelCenters: false },
    { from: [6, 5], to: [4, 11], alignCorners: false, halfPixelCenters: true },
  ])('$from → $to alignCorners=$alignCorners halfPixelCenters=$halfPixelCenters', async ({ from, to, alignCorners, halfPixelCenters }) => {
    const shape: Shape4 = [2, from[0], from[1], 3];
    const outShape: Shape4 = [2, to[0], to[1], 3];
    const x = seeded(shape, 17);
    const dy = seeded(outShape, 18);
    const resize = (t: tf.Tensor): tf.Tensor => tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [to[0], to[1]], alignCorners, halfPixelCenters);
    for (const b of BACKENDS) {
      await onBackend(b, () => {
        // Reference: resize an image of flat indices to learn which input each output copies,
        // then add every dy to its source (the gradient of a selection).
        const source = tf.tidy(() => resize(tf.tensor4d(Float32Array.from(x, (_, i) => i), shape)).dataSync());
        const want = new Float64Array(x.length);
        source.forEach((src, o) => (want[src] += dy[o]));
        const got = tf.tidy(() => {
          const r = tf.tensor4d(dy, outShape);
          return tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(resize(xi), r)))(tf.tensor4d(x, shape)).dataSync() as Float32Array;
        });
        expect(relError(got, want), b).toBeLessThan(REL_TOL);
      });
    }
  });
});

describe('gradients through the ops, wasm against cpu', () => {
  /** d/d(x, w) of Σ r ⊙ op(x, w), for a fixed random r. */
  async function opGrads(c: Case, depthwise: boolean): Promise<Record<string, Float32Array[]>> {
    const fShape: Shape4 = [c.k[0], c.k[1], c.x[3], c.out];
    const out: Record<string, Float32Array[]> = {};
    for (const b of BACKENDS) {
      out[b] = await onBackend(b, () =>
        tf.tidy(() => {
          const x = tf.tensor4d(seeded(c.x, 7), c.x);
          const w = tf.tensor4d(seeded(fShape, 8), fShape);
          const op = (xi: tf.Tensor4D, wi: tf.Tensor4D): tf.Tensor4D =>
            depthwise ? tf.depthwiseConv2d(xi, wi, c.strides, c.pad) : tf.conv2d(xi, wi, c.strides, c.pad);
          const r = tf.tensor(seeded(op(x, w).shape, 9), op(x, w).shape);
          const grads = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.mul(op(xi as tf.Tensor4D, wi as tf.Tensor4D), r)))([x, w]);
          return [op(x, w), ...grads].map((t) => t.dataSync() as Float32Array);
        }),
      );
    }
    return out;
  }

  it.each(CONV_CASES)('conv2d forward, dx, dw: $x k$k s$strides $pad', async (c) => {
    const r = await opGrads(c, false);
    r.wasm.forEach((a, i) => expect(relError(a, r.cpu[i]), `output ${i} of ${label(c)}`).toBeLessThan(REL_TOL));
  });

  it.each(DEPTHWISE_CASES)('depthwiseConv2d forward, dx, dw: $x k$k q$out s$strides $pad', async (c) => {
    const r = await opGrads(c, true);
    r.wasm.forEach((a, i) => expect(relError(a, r.cpu[i]), `output ${i} of ${label(c)}`).toBeLessThan(REL_TOL));
  });
});
