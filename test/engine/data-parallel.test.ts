import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FusedAdamOptimizer } from '../../engine/adam.ts';
import { DataParallelTrainer } from '../../engine/data-parallel.ts';
import { onBackend, relError, seeded } from './compare.ts';

const L = tf.layers;

/** A small conv net without batch norm, so sharded gradients average to the full-batch gradient exactly. */
function net(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 1] });
  const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }).apply(input);
  const c2 = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthwiseInitializer: tf.initializers.glorotNormal({ seed: 2 }) }).apply(c1);
  const out = L.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }).apply(L.globalAveragePooling2d({}).apply(c2));
  return tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
}

describe('DataParallelTrainer', () => {
  it('two replicas, three Adam steps: same weights as one process training on the whole batch', async () => {
    await onBackend('wasm', async () => {
      const x = tf.tensor(seeded([6, 8, 8, 1], 71), [6, 8, 8, 1]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 2, 1, 0], 'int32'), 3).toFloat();
      const reference = net();
      const start = reference.getWeights().map((w) => w.dataSync().slice());
      const opt = new FusedAdamOptimizer(0.01);
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        const cost = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, reference.apply(x) as tf.Tensor), true);
        losses.push(cost!.dataSync()[0]);
        cost!.dispose();
      }
      const parallel = net();
      parallel.setWeights(start.map((d, i) => tf.tensor(d, reference.weights[i].shape as number[])));
      const trainer = await DataParallelTrainer.create(parallel, { replicas: 2, backend: 'wasm', learningRate: 0.01, task: 'classification' });
      try {
        trainer.setBatch(x, y);
        const parallelLosses: number[] = [];
        for (let s = 0; s < 3; s++) parallelLosses.push(await trainer.step());
        await trainer.copyWeightsTo(parallel);
        expect(relError(parallelLosses, losses)).toBeLessThan(1e-4);
        const want = reference.getWeights().map((w) => w.dataSync() as Float32Array);
        parallel.getWeights().forEach((w, i) => expect(relError(w.dataSync(), want[i]), `weight ${i}`).toBeLessThan(1e-4));
        // training moved the weights
        expect(relError(want[0], start[0])).toBeGreaterThan(1e-3);
      } finally {
        await trainer.close();
      }
    });
  });
});
