import * as tf from '@tensorflow/tfjs';
import { FusedAdamOptimizer } from './adam.ts';
import { DataParallelTrainer, flatTrainableWeights, shardRows, unflatten } from './data-parallel.ts';
import type { ShardArray } from './data-parallel-protocol.ts';
import { crossEntropyLoss, crossEntropyLossSpec } from './replica-losses.ts';

/** Steps run before timing starts (kernel setup, XNNPACK operator creation, heap growth). */
export const WARMUP_STEPS = 3;
/** Minimum wall time of the timed part, so one slow step on a busy machine weighs little. */
export const MIN_TIMED_MS = 3000;
/** Minimum number of timed steps. */
export const MIN_TIMED_STEPS = 5;

/** What a training-speed run measured. */
export interface TrainingThroughput {
  imagesPerSecond: number;
  /** Peak resident set size of the whole process so far, in MB. */
  peakRssMB: number;
  /** Process CPU time (user + system, all threads) per trained image: comparable on a busy machine. */
  cpuSecondsPerImage: number;
  steps: number;
  seconds: number;
  /** Loss of the last step (finite on a healthy run). */
  lastLoss: number;
}

/** How to measure: batch size and the loss that fits the model's output. */
export interface ThroughputOptions {
  batch: number;
  /** 'classification': softmax cross-entropy on [N, classes] logits; 'segmentation': sigmoid cross-entropy on mask logits. */
  task: 'classification' | 'segmentation';
  seed?: number;
  warmupSteps?: number;
  minTimedMs?: number;
  minTimedSteps?: number;
  /** Worker-thread replicas for data parallelism (DataParallelTrainer); 1 trains in this thread. */
  replicas?: number;
}

function randomTargets(model: tf.LayersModel, o: ThroughputOptions, seed: number): tf.Tensor {
  const outShape = model.outputs[0].shape.slice(1) as number[];
  if (o.task === 'segmentation') return tf.tidy(() => tf.randomUniform([o.batch, ...outShape], 0, 1, 'float32', seed).round());
  const classes = outShape[0];
  return tf.tidy(() => tf.oneHot(tf.randomUniform([o.batch], 0, classes, 'int32', seed), classes).toFloat());
}

/** Runs `step` after a warm-up for at least the minimum time and steps; returns what it measured. */
async function timeSteps(step: () => Promise<number> | number, o: ThroughputOptions): Promise<TrainingThroughput> {
  for (let i = 0; i < (o.warmupSteps ?? WARMUP_STEPS); i++) await step();
  const minMs = o.minTimedMs ?? MIN_TIMED_MS;
  const minSteps = o.minTimedSteps ?? MIN_TIMED_STEPS;
  let steps = 0;
  let lastLoss = NaN;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (steps < minSteps || performance.now() - t0 < minMs) {
    lastLoss = await step();
    steps++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    imagesPerSecond: (steps * o.batch) / seconds,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    cpuSecondsPerImage: (cpu.user + cpu.system) / 1e6 / (steps * o.batch),
    steps,
    seconds,
    lastLoss,
  };
}

/** Rows from…from+rows of a tensor as a shard array. */
function sliceOf(t: tf.Tensor, from: number, rows: number): ShardArray {
  const per = t.size / t.shape[0];
  return { data: (t.dataSync() as Float32Array).slice(from * per, (from + rows) * per), shape: [rows, ...t.shape.slice(1)] };
}

/**
 * Trains `model` with Adam (lr 1e-3, fedkd's fused kernel) on one fixed random batch, after a
 * warm-up, and reports images per second over at least MIN_TIMED_MS / MIN_TIMED_STEPS. BN runs
 * in training mode, as in real training. With `replicas` > 1 the batch is split over that many
 * worker threads (DataParallelTrainer) on the current backend; they return gradients this
 * thread averages and applies, and take the new weights with the next step's shards. The
 * model's weights change.
 */
export async function measureTrainingThroughput(model: tf.LayersModel, o: ThroughputOptions): Promise<TrainingThroughput> {
  const seed = o.seed ?? 1;
  const inShape = model.inputs[0].shape.slice(1) as number[];
  const x = tf.randomNormal([o.batch, ...inShape], 0, 1, 'float32', seed);
  const y = randomTargets(model, o, seed + 1);
  try {
    if ((o.replicas ?? 1) > 1) {
      const trainer = await DataParallelTrainer.create(model, { replicas: o.replicas ?? 1, loss: crossEntropyLossSpec(o.task) });
      const opt = new FusedAdamOptimizer(1e-3);
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      try {
        const shards = shardRows(o.batch, trainer.size).map(([from, rows]) => ({
          rows,
          shard: { x: sliceOf(x, from, rows), y: sliceOf(y, from, rows) },
        }));
        const step = async (): Promise<number> => {
          const { loss, flat } = await trainer.gradients(shards, flatTrainableWeights(model));
          const named = unflatten(flat, vars).map((tensor, i) => ({ name: vars[i].name, tensor }));
          opt.applyGradients(named);
          tf.dispose(named.map((n) => n.tensor));
          return loss;
        };
        return await timeSteps(step, o);
      } finally {
        opt.dispose();
        await trainer.close();
      }
    }
    const opt = new FusedAdamOptimizer(1e-3);
    const loss = crossEntropyLoss({ task: o.task });
    const step = (): number => {
      const cost = opt.minimize(() => loss(model, { x, y }), true);
      const v = cost ? cost.dataSync()[0] : NaN;
      cost?.dispose();
      return v;
    };
    const r = await timeSteps(step, o);
    opt.dispose();
    return r;
  } finally {
    tf.dispose([x, y]);
  }
}
