import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { DataParallelTrainer, flatTrainableWeights, shardRows } from '../../engine/data-parallel.ts';
import { crossEntropyLossSpec } from '../../engine/replica-losses.ts';
import { onBackend, relError, seeded } from './compare.ts';

const L = tf.layers;

/** A small conv net, without batch norm (sharded gradients then average to the full batch's exactly) or with it. */
function net(bn = false): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 1] });
  let h = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  if (bn) h = L.batchNormalization({ momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
  const c2 = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthwiseInitializer: tf.initializers.glorotNormal({ seed: 2 }) }).apply(h);
  const out = L.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }).apply(L.globalAveragePooling2d({}).apply(c2));
  return tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
}

const rows = (t: tf.Tensor, from: number, n: number): { data: Float32Array; shape: number[] } => {
  const per = t.size / t.shape[0];
  return { data: (t.dataSync() as Float32Array).slice(from * per, (from + n) * per), shape: [n, ...t.shape.slice(1)] };
};

describe('shardRows', () => {
  it('splits a batch as evenly as it can, larger shards first, never an empty shard', () => {
    expect(shardRows(7, 2)).toEqual([[0, 4], [4, 3]]);
    expect(shardRows(6, 3)).toEqual([[0, 2], [2, 2], [4, 2]]);
    expect(shardRows(1, 2)).toEqual([[0, 1]]);
  });
});

describe('DataParallelTrainer', () => {
  it('gradients of uneven shards (4 + 2 rows), weighted by rows: the full batch gradient, at the weights it was sent', async () => {
    await onBackend('wasm', async () => {
      const x = tf.tensor(seeded([6, 8, 8, 1], 71), [6, 8, 8, 1]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 2, 1, 0], 'int32'), 3).toFloat();
      const reference = net();
      // the replicas start from other weights: the ones sent with the shards must win
      const model = net();
      model.setWeights(model.getWeights().map((w) => tf.mul(w, 0.5)));
      const vars = reference.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, reference.apply(x) as tf.Tensor), vars);
      const want = vars.map((v) => grads[v.name].dataSync() as Float32Array);
      const trainer = await DataParallelTrainer.create(model, { replicas: 2, backend: 'wasm', loss: crossEntropyLossSpec('classification') });
      try {
        const shards = [
          { rows: 4, shard: { x: rows(x, 0, 4), y: rows(y, 0, 4) } },
          { rows: 2, shard: { x: rows(x, 4, 2), y: rows(y, 4, 2) } },
        ];
        const { loss, flat } = await trainer.gradients(shards, flatTrainableWeights(reference));
        expect(Math.abs(loss - value.dataSync()[0])).toBeLessThan(1e-5);
        let o = 0;
        want.forEach((g, i) => {
          expect(relError(flat.subarray(o, o + g.length), g), `gradient ${i}`).toBeLessThan(1e-4);
          o += g.length;
        });
        expect(o).toBe(trainer.gradientSize);
        // an unweighted mean of the two shards' gradients would differ
        const half = await trainer.gradients([shards[1]]);
        expect(relError(flat, half.flat)).toBeGreaterThan(1e-2);
      } finally {
        await trainer.close();
      }
    });
  });

  it("the moving batch-norm statistics are replica 0's: its shard's batch statistics, averaged as in training", async () => {
    await onBackend('wasm', async () => {
      const x = tf.tensor(seeded([4, 8, 8, 1], 72), [4, 8, 8, 1]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3).toFloat();
      const model = net(true);
      const reference = net(true);
      const trainer = await DataParallelTrainer.create(model, { replicas: 2, backend: 'wasm', loss: crossEntropyLossSpec('classification') });
      try {
        const shards = [
          { rows: 2, shard: { x: rows(x, 0, 2), y: rows(y, 0, 2) } },
          { rows: 2, shard: { x: rows(x, 2, 2), y: rows(y, 2, 2) } },
        ];
        await trainer.gradients(shards);
        await trainer.gradients(shards);
        await trainer.copyStateTo(model);
        // the same model run twice in training mode on shard 0 alone, in this thread
        const x0 = tf.slice(x, [0, 0, 0, 0], [2, 8, 8, 1]);
        for (let i = 0; i < 2; i++) tf.dispose(reference.apply(x0, { training: true }) as tf.Tensor);
        const got = model.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array);
        const want = reference.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array);
        expect(got.length).toBe(2);
        got.forEach((g, i) => expect(relError(g, want[i]), `state ${i}`).toBeLessThan(1e-4));
        // and they moved away from their initial values (mean 0, variance 1)
        expect(relError(want[0], new Float32Array(want[0].length))).toBeGreaterThan(0.5);
      } finally {
        await trainer.close();
      }
    });
  });

  it('a replica whose loss module does not export the factory fails with a clear error', async () => {
    await onBackend('wasm', async () => {
      const spec = { ...crossEntropyLossSpec('classification'), factory: 'noSuchLoss' };
      await expect(DataParallelTrainer.create(net(), { replicas: 1, backend: 'wasm', loss: spec })).rejects.toThrow(/exports no function noSuchLoss/);
    });
  });
});
