import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { adamBiasCorrections, adamKeep, adamUpdateImpl } from '../../engine/kernels/AdamUpdate_impl.ts';
import { batchNormTrainBackwardImpl, batchNormTrainForwardImpl } from '../../engine/kernels/BatchNormTrain_impl.ts';
import { depthwiseBackpropFilterImpl } from '../../engine/kernels/DepthwiseConv2dNativeBackpropFilter_impl.ts';
import { im2colTransposed } from '../../engine/kernels/im2col_impl.ts';
import { depthwiseBackpropInputImpl } from '../../engine/kernels/DepthwiseConv2dNativeBackpropInput_impl.ts';
import { reluGradImpl } from '../../engine/kernels/ReluGrad_impl.ts';
import { bnScratchBytes, instantiateSimd, type SimdExports } from '../../engine/simd/index.ts';
import { relError } from './compare.ts';

// Each SIMD kernel of engine/simd/kernels.wasm against its JS reference, on random arrays whose
// sizes are not multiples of 4 (so the vector loops and their scalar tails both run), on a
// memory of the test's own.

/** kernels.wasm on a fresh 4 MB memory, with a bump allocator (16-byte aligned). */
class Heap {
  readonly memory = new WebAssembly.Memory({ initial: 64 });
  readonly k: SimdExports = instantiateSimd(this.memory);
  private top = 1024;

  alloc(floats: number): number {
    const p = this.top;
    this.top += Math.ceil((floats * 4) / 16) * 16;
    return p;
  }

  put(a: Float32Array): number {
    const p = this.alloc(a.length);
    new Float32Array(this.memory.buffer, p, a.length).set(a);
    return p;
  }

  get(p: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, p, n).slice();
  }
}

function random(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => shift + scale * (rng.next() * 2 - 1));
}

describe('SIMD batch norm (training mode) against the JS reference', () => {
  // rows × channels: channel counts exercise the 8-wide, 4-wide and scalar loops.
  const cases = [
    { rows: 37, c: 13, shift: 0 },
    { rows: 101, c: 3, shift: 0 },
    { rows: 65, c: 16, shift: 0 },
    { rows: 33, c: 21, shift: 100 },
  ];
  it.each(cases)('forward, $rows × $c, mean ≈ $shift', ({ rows, c, shift }) => {
    const h = new Heap();
    const x = random(rows * c, 1, 2, shift);
    const p = { scale: random(c, 2, 0.5, 1), offset: random(c, 3), epsilon: 1e-3, movingMean: random(c, 4), movingVariance: random(c, 5, 0.2, 1), decay: 0.01 };
    const want = { y: new Float32Array(rows * c), mean: new Float32Array(c), variance: new Float32Array(c), movingMean: new Float32Array(c), movingVariance: new Float32Array(c) };
    batchNormTrainForwardImpl(x, p, want);
    const [px, ps, po, pmm, pmv] = [x, p.scale, p.offset, p.movingMean, p.movingVariance].map((a) => h.put(a));
    const outs = [rows * c, c, c, c, c].map((n) => h.alloc(n));
    h.k.bn_train_forward(px, rows, c, ps, po, p.epsilon, outs[0], outs[1], outs[2], pmm, pmv, p.decay, outs[3], outs[4], h.alloc(bnScratchBytes(c) / 4));
    const got = [rows * c, c, c, c, c].map((n, i) => h.get(outs[i], n));
    [want.y, want.mean, want.variance, want.movingMean, want.movingVariance].forEach((w, i) => expect(relError(got[i], w), `output ${i}`).toBeLessThan(1e-5));
    // Independent check of the statistics: float64 two-pass moments.
    for (const j of [0, c - 1]) {
      let m = 0;
      for (let r = 0; r < rows; r++) m += x[r * c + j] / rows;
      let v = 0;
      for (let r = 0; r < rows; r++) v += (x[r * c + j] - m) ** 2 / rows;
      expect(Math.abs(got[1][j] - m)).toBeLessThan(1e-5 * Math.max(1, Math.abs(m)));
      expect(Math.abs(got[2][j] - v) / v).toBeLessThan(1e-5);
      expect(got[0][j]).toBeCloseTo(((x[j] - m) / Math.sqrt(v + 1e-3)) * p.scale[j] + p.offset[j], 4);
    }
  });

  it.each(cases)('backward, $rows × $c, mean ≈ $shift', ({ rows, c, shift }) => {
    const h = new Heap();
    const x = random(rows * c, 11, 2, shift);
    const p = {
      x, dy: random(rows * c, 12), mean: random(c, 13, 0.1, shift), variance: random(c, 14, 0.3, 1.2), scale: random(c, 15, 0.5, 1),
      epsilon: 1e-3, gMean: random(c, 16), gVariance: random(c, 17),
    };
    const want = { dx: new Float32Array(rows * c), dScale: new Float32Array(c), dOffset: new Float32Array(c) };
    batchNormTrainBackwardImpl(p, want);
    const [px, pdy, pm, pv, ps, pgm, pgv] = [p.x, p.dy, p.mean, p.variance, p.scale, p.gMean, p.gVariance].map((a) => h.put(a));
    const outs = [rows * c, c, c].map((n) => h.alloc(n));
    h.k.bn_train_backward(px, pdy, rows, c, pm, pv, ps, p.epsilon, pgm, pgv, outs[0], outs[1], outs[2], h.alloc(bnScratchBytes(c) / 4));
    [want.dx, want.dScale, want.dOffset].forEach((w, i) => expect(relError(h.get(outs[i], w.length), w), `output ${i}`).toBeLessThan(1e-5));
    // Independent check of one dOffset and dScale entry.
    const j = c - 1;
    let sumDy = 0;
    let sumDyXc = 0;
    for (let r = 0; r < rows; r++) {
      sumDy += p.dy[r * c + j];
      sumDyXc += p.dy[r * c + j] * (x[r * c + j] - p.mean[j]);
    }
    expect(h.get(outs[2], c)[j]).toBeCloseTo(sumDy, 3);
    expect(h.get(outs[1], c)[j]).toBeCloseTo(sumDyXc / Math.sqrt(p.variance[j] + 1e-3), 3);
  });
});

const DW_CASES = [
    { n: 3, size: 9, c: 4, stride: 1, pad: 'same' as const },
    { n: 2, size: 11, c: 12, stride: 2, pad: 'same' as const },
    { n: 2, size: 10, c: 8, stride: 2, pad: 'same' as const },
    { n: 1, size: 7, c: 20, stride: 1, pad: 'valid' as const },
    { n: 2, size: 13, c: 4, stride: 2, pad: 'valid' as const },
];

describe('SIMD depthwise 3×3 filter and input gradients against the JS references', () => {
  it.each(DW_CASES)('n $n, $size×$size, c $c, stride $stride, $pad', ({ n, size, c, stride, pad }) => {
    const info = tf.backend_util.computeConv2DInfo([n, size, size, c], [3, 3, c, 1], [stride, stride], [1, 1], pad, undefined, true);
    const x = random(n * size * size * c, 21);
    const dy = random(n * info.outHeight * info.outWidth * c, 22);
    const want = new Float32Array(9 * c);
    depthwiseBackpropFilterImpl(x, dy, info, want);
    const h = new Heap();
    const out = h.alloc(9 * c);
    h.k.dw_filter_grad_3x3(h.put(x), h.put(dy), n, size, size, c, info.outHeight, info.outWidth, stride, stride, info.padInfo.top, info.padInfo.left, out);
    expect(relError(h.get(out, 9 * c), want)).toBeLessThan(1e-5);
    expect(want.some((v) => Math.abs(v) > 0.1)).toBe(true);
  });

  it.each(DW_CASES)('input gradient: n $n, $size×$size, c $c, stride $stride, $pad', ({ n, size, c, stride, pad }) => {
    const info = tf.backend_util.computeConv2DInfo([n, size, size, c], [3, 3, c, 1], [stride, stride], [1, 1], pad, undefined, true);
    const dy = random(n * info.outHeight * info.outWidth * c, 23);
    const filter = random(9 * c, 24);
    const want = new Float32Array(n * size * size * c);
    depthwiseBackpropInputImpl(dy, filter, info, want);
    const h = new Heap();
    const out = h.put(new Float32Array(want.length).fill(3));
    h.k.dw_input_grad_3x3(h.put(dy), h.put(filter), n, size, size, c, info.outHeight, info.outWidth, stride, stride, info.padInfo.top, info.padInfo.left, out);
    expect(relError(h.get(out, want.length), want)).toBeLessThan(1e-5);
    expect(want.some((v) => Math.abs(v) > 0.1)).toBe(true);
  });
});

describe('SIMD matmul_tn (dW = colsᵀ · dy) against a float64 loop', () => {
  const cases = [
    { m: 301, k: 13, n: 19, transposed: false },
    { m: 257, k: 9, n: 16, transposed: true },
    { m: 130, k: 8, n: 7, transposed: false },
    { m: 3, k: 5, n: 24, transposed: true },
  ];
  it.each(cases)('M $m, K $k, N $n, a stored transposed: $transposed', ({ m, k, n, transposed }) => {
    const a = random(m * k, 51);
    const b = random(m * n, 52);
    const at = (mi: number, ki: number): number => (transposed ? a[ki * m + mi] : a[mi * k + ki]);
    const want = new Float64Array(k * n);
    for (let mi = 0; mi < m; mi++) for (let ki = 0; ki < k; ki++) for (let ni = 0; ni < n; ni++) want[ki * n + ni] += at(mi, ki) * b[mi * n + ni];
    const h = new Heap();
    const out = h.put(new Float32Array(k * n).fill(7));
    h.k.matmul_tn(h.put(a), transposed ? 1 : k, transposed ? m : 1, h.put(b), m, k, n, out);
    expect(relError(h.get(out, k * n), want)).toBeLessThan(1e-5);
  });
});

describe('SIMD im2col_t against the JS im2colTransposed', () => {
  it.each([
    { x: [2, 9, 7, 1], k: [3, 3], s: [2, 2], pad: 'same' as const },
    { x: [1, 8, 9, 3], k: [3, 2], s: [1, 2], pad: 'valid' as const },
    { x: [3, 5, 5, 2], k: [5, 5], s: [1, 1], pad: 'same' as const },
  ])('x $x kernel $k strides $s $pad', ({ x, k, s, pad }) => {
    const info = tf.backend_util.computeConv2DInfo(x as [number, number, number, number], [k[0], k[1], x[3], 4], s as [number, number], 1, pad);
    const xs = random(x.reduce((a, b) => a * b, 1), 61);
    const size = k[0] * k[1] * x[3] * info.batchSize * info.outHeight * info.outWidth;
    const want = new Float32Array(size);
    im2colTransposed(xs, info, want);
    const h = new Heap();
    const out = h.put(new Float32Array(size).fill(9));
    h.k.im2col_t(h.put(xs), x[0], x[1], x[2], x[3], info.outHeight, info.outWidth, k[0], k[1], s[0], s[1], info.padInfo.top, info.padInfo.left, out);
    expect(Array.from(h.get(out, size))).toEqual(Array.from(want));
    // 'same' padding reads outside the image: those entries must be zeros.
    if (pad === 'same') expect(want.filter((v) => v === 0).length).toBeGreaterThan(0);
    expect(want.some((v) => Math.abs(v) > 0.5)).toBe(true);
  });
});

describe('SIMD ReLU gradient and Adam step against the JS references', () => {
  it('relu_grad on 1027 values', () => {
    const n = 1027;
    const dy = random(n, 31);
    const x = random(n, 32);
    const want = new Float32Array(n);
    reluGradImpl(dy, x, want);
    const h = new Heap();
    const out = h.alloc(n);
    h.k.relu_grad(h.put(dy), h.put(x), n, out);
    expect(Array.from(h.get(out, n))).toEqual(Array.from(want));
    expect(want.filter((v) => v === 0).length).toBeGreaterThan(n / 4);
  });

  it.each([0, 0.3])('adam_update on 1027 values, step 3, weight decay %s', (weightDecay) => {
    const n = 1027;
    const [x, g, m] = [41, 42, 43].map((s) => random(n, s));
    const v = random(n, 44, 0.5, 0.5);
    const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: 3, weightDecay };
    const want = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    adamUpdateImpl(x, g, m, v, hyper, want[0], want[1], want[2]);
    // the decoupled decay by hand: x′ = (1 − lr·λ)·x − (the step without decay)
    const plain = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    adamUpdateImpl(x, g, m, v, { ...hyper, weightDecay: 0 }, plain[0], plain[1], plain[2]);
    const byHand = plain[0].map((p, i) => p - 0.01 * weightDecay * x[i]);
    expect(relError(want[0], byHand)).toBeLessThan(1e-6);
    const h = new Heap();
    const outs = [h.alloc(n), h.alloc(n), h.alloc(n)];
    const [c1, c2] = adamBiasCorrections(hyper);
    h.k.adam_update(h.put(x), h.put(g), h.put(m), h.put(v), n, hyper.lr, hyper.beta1, hyper.beta2, hyper.epsilon, c1, c2, adamKeep(hyper), outs[0], outs[1], outs[2]);
    want.forEach((w, i) => expect(relError(h.get(outs[i], n), w), `output ${i}`).toBeLessThan(1e-6));
    expect(relError(want[0], x)).toBeGreaterThan(1e-4);
  });
});
