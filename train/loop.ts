import * as tf from '@tensorflow/tfjs';
import { configHash, sha256 } from '../core/files.ts';
import { progressBar } from '../core/progress.ts';
import { Rng } from '../core/rng.ts';
import { packTensors, type NamedTensor } from '../core/tensors.ts';
import type { KdOptions } from '../distill/losses.ts';
import { getNamedWeights as readWeights, setNamedWeights as writeWeights } from '../models/weights.ts';
import type { AugmentConfig } from '../data/index.ts';
import { DataParallelTrainer } from '../engine/data-parallel.ts';
import { batchArrays, batchRanges, batchTensors, disposeBatch, shuffledOrder } from './batches.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointState, type EpochRecord } from './checkpoint.ts';
import { classificationTask } from './classification.ts';
import { LocalOptimizer, type OptimizerConfig } from './optimizer.ts';
import { learningRateAt, type LrSchedule } from './schedule.ts';
import { shardsOf } from './replicas.ts';
import { anchorTensors, applyMasks, maskTensors, trainStep, trainStepOnReplicas, type MaskHookLike, type StepContext, type WeightMask } from './step.ts';
import type { ImageSet, Metrics, Task } from './types.ts';
import { trainableVariables } from './weights.ts';

/**
 * Longest stretch, in milliseconds, that the training loop runs steps without giving the event
 * loop a turn. A training step is synchronous, so without these turns a site's heartbeats (its
 * `setInterval`), gRPC traffic and worker-thread messages in the same process waited for the
 * whole local training: a hospital training for longer than the coordinator's site timeout
 * looked dead mid-round.
 */
export const YIELD_EVERY_MS = 100;

let lastTurn = performance.now();

/** Lets timers, I/O and worker messages waiting on this thread run (the next turn of the event loop) once YIELD_EVERY_MS have passed since the training on this thread last did. */
async function eventLoopTurn(): Promise<void> {
  if (performance.now() - lastTurn < YIELD_EVERY_MS) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastTurn = performance.now();
}

/** Settings of a local training run. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: LrSchedule;
  /** Seeds shuffling and augmentation; one seed repeats a run exactly. */
  seed: number;
  /** Augmentation of training images (data/'s seeded augment); off when absent. */
  augment?: AugmentConfig;
  /** KD temperature and α for the classification task. */
  kd?: KdOptions;
  /** Stop after `patience` epochs without the task score rising by more than `minDelta`. */
  earlyStopping?: { patience: number; minDelta?: number };
  /** Return the weights of the best validation epoch rather than the last (default: true when validating). */
  restoreBest?: boolean;
  /** Folder for the per-epoch checkpoint; a run finding one of its own there resumes from it. */
  checkpointDir?: string;
  /** Label of the progress bar. */
  label?: string;
  /**
   * Worker threads computing each batch's gradients on equal shards (engine/data-parallel.ts;
   * e.g. one per core), for a task with a `replicaLoss`; this thread averages them and steps.
   * Batch-norm statistics are then per shard, so results differ slightly from one thread's.
   * Default 1: this thread trains alone.
   */
  replicas?: number;
}

/** Inputs of trainLocal: the one loop standalone and federated training share. */
export interface TrainLocalInput {
  model: tf.LayersModel;
  train: ImageSet;
  val?: ImageSet;
  /** Teacher logits for every training row, N × classes (distill/softLabels); turns KD on. */
  softLabels?: Float32Array;
  config: TrainConfig;
  /** The task; classification (with KD when softLabels are given) by default. */
  task?: Task;
  /** Weights to start from (the global model in federated rounds). */
  initialWeights?: NamedTensor[];
  /** FedProx μ: adds μ/2·‖w − w_initial‖² to the loss (needs initialWeights). */
  proximalMu?: number;
  /** Pruning masks, applied to weights and gradients after every step. */
  masks?: WeightMask[];
  /** prune/'s MaskHook (createMaskHook): masks gradients before and weights after every step. The caller disposes it. */
  maskHook?: MaskHookLike;
  /**
   * Pruning during the run: called before each epoch; a mask hook it returns replaces the
   * current one from that epoch on (the caller disposes both). Best-epoch choice and early
   * stopping then count only the epochs after it, so the run returns a model under its last
   * masks. Not resumable from a checkpoint (the masks are not in it).
   */
  pruneBeforeEpoch?: (epoch: number) => MaskHookLike | undefined;
  /** Called after each epoch's checkpoint is written. */
  onEpochEnd?: (r: EpochRecord) => void;
}

/** What a run returns: the final weights, how many examples trained them, and its figures. */
export interface TrainLocalResult {
  weights: NamedTensor[];
  numExamples: number;
  metrics: { epochs: number; bestEpoch: number; trainLoss: number; val?: Metrics; history: EpochRecord[]; stoppedEarly: boolean };
}

/** A key of everything that decides a run's outcome, so a checkpoint resumes only its own run. */
function runKey(input: TrainLocalInput, task: Task): string {
  const { checkpointDir: _d, label: _l, ...cfg } = input.config;
  const h = (ts?: readonly NamedTensor[]): string | undefined => (ts ? sha256(packTensors(ts)) : undefined);
  const setKey = (s?: ImageSet): string | undefined => (s ? s.hash ?? sha256(new Uint8Array(s.x.buffer, s.x.byteOffset, s.x.byteLength)) : undefined);
  return configHash({
    cfg, task: task.name, train: setKey(input.train), val: setKey(input.val), mu: input.proximalMu,
    soft: input.softLabels ? sha256(new Uint8Array(input.softLabels.buffer, input.softLabels.byteOffset, input.softLabels.byteLength)) : undefined,
    init: h(input.initialWeights), masks: h(input.masks?.map((m) => ({ ...m, dtype: 'float32' as const }))),
    model: input.model.weights.map((w) => `${w.originalName}:${w.shape}`),
  });
}

/**
 * One pass over the training set in an order and with augmentations drawn from the run seed
 * and the epoch number alone, so a resumed run repeats them. Advances `state.step`.
 */
async function runEpoch(ctx: StepContext, input: TrainLocalInput, numClasses: number, epoch: number, state: CheckpointState, replicas?: DataParallelTrainer): Promise<{ trainLoss: number; lr: number }> {
  const { train, config: cfg } = input;
  const stepsPerEpoch = Math.ceil(train.n / cfg.batchSize);
  const seedRng = new Rng(cfg.seed);
  const order = shuffledOrder(train.n, seedRng.fork(`shuffle:${epoch}`));
  const augRng = seedRng.fork(`augment:${epoch}`);
  const bar = progressBar(`${cfg.label ?? 'train'} epoch ${epoch + 1}/${cfg.epochs}`, stepsPerEpoch);
  let lossSum = 0;
  let seen = 0;
  let lr = 0;
  try {
    for (const rows of batchRanges(order, cfg.batchSize)) {
      await eventLoopTurn();
      lr = learningRateAt(cfg.schedule, state.step, cfg.epochs * stepsPerEpoch);
      const arrays = batchArrays(train, rows, { softLabels: input.softLabels, numClasses, augment: cfg.augment, rng: augRng });
      if (replicas) lossSum += (await trainStepOnReplicas(ctx, replicas, shardsOf(arrays, replicas.size), lr)) * rows.length;
      else {
        const batch = batchTensors(arrays);
        try {
          lossSum += trainStep(ctx, batch, lr) * rows.length;
        } finally {
          disposeBatch(batch);
        }
      }
      seen += rows.length;
      state.step++;
      bar.tick(1, `loss ${(lossSum / seen).toFixed(4)} lr ${lr.toExponential(1)}`);
    }
  } finally {
    bar.stop();
  }
  return { trainLoss: lossSum / train.n, lr };
}

/** The data-parallel replicas of a run with `replicas` > 1 (TrainConfig.replicas), or none. */
async function startReplicas(model: tf.LayersModel, task: Task, replicas: number): Promise<DataParallelTrainer | undefined> {
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`replicas must be a whole number of at least 1, not ${replicas}`);
  if (replicas === 1) return undefined;
  if (!task.replicaLoss) throw new Error(`the ${task.name} task cannot train on ${replicas} replicas (it has no replicaLoss); use 1`);
  return DataParallelTrainer.create(model, { replicas, loss: task.replicaLoss });
}

/**
 * Trains `model` on a site's data for `config.epochs` epochs (fewer when early stopping
 * fires): seeded shuffling and augmentation, the LR schedule, validation each epoch, a
 * checkpoint after each epoch, resumption from a checkpoint of the same run, FedProx's
 * proximal term and pruning masks. Intermediate tensors are disposed, so the live tensor
 * count stays flat across epochs.
 */
export async function trainLocal(input: TrainLocalInput): Promise<TrainLocalResult> {
  const { model, train, val, config: cfg } = input;
  const numClasses = model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? 2;
  const task = input.task ?? classificationTask({ numClasses, kd: cfg.kd });
  if (input.initialWeights) writeWeights(model, input.initialWeights);
  if (input.proximalMu && !input.initialWeights) throw new Error('FedProx needs initialWeights (the global model)');
  if (input.pruneBeforeEpoch && cfg.checkpointDir) throw new Error('a run that prunes as it trains cannot checkpoint (its masks are not in the checkpoint)');
  const vars = trainableVariables(model);
  const ctx: StepContext = { model, task, vars, optimizer: new LocalOptimizer(vars, cfg.optimizer), masks: maskTensors(model, input.masks), maskHook: input.maskHook };
  if (input.proximalMu && input.initialWeights) ctx.proximal = { mu: input.proximalMu, anchor: anchorTensors(model, input.initialWeights) };
  const key = runKey(input, task);
  let state: CheckpointState = { version: 1, runKey: key, epoch: 0, step: 0, bestScore: -Infinity, bestEpoch: -1, history: [] };
  let best: NamedTensor[] | undefined;
  const resumed = cfg.checkpointDir ? await loadCheckpoint(cfg.checkpointDir, key) : undefined;
  if (resumed) {
    writeWeights(model, resumed.tensors.weights);
    ctx.optimizer.setState(resumed.tensors.optimizer);
    ({ state } = resumed);
    best = resumed.tensors.best;
  }
  applyMasks(ctx);
  const patience = cfg.earlyStopping?.patience ?? Infinity;
  let stoppedEarly = false;
  let replicas: DataParallelTrainer | undefined;
  try {
    replicas = await startReplicas(model, task, cfg.replicas ?? 1);
    for (let epoch = state.epoch; epoch < cfg.epochs; epoch++) {
      if (epoch - state.bestEpoch > patience) {
        stoppedEarly = true;
        break;
      }
      const pruned = input.pruneBeforeEpoch?.(epoch);
      if (pruned) {
        ctx.maskHook = pruned;
        applyMasks(ctx);
        state = { ...state, bestScore: -Infinity, bestEpoch: epoch - 1 };
        best = undefined;
      }
      const t0 = Date.now();
      const { trainLoss, lr } = await runEpoch(ctx, input, numClasses, epoch, state, replicas);
      await replicas?.copyStateTo(model);
      const valMetrics = val ? task.evaluate(model, val, cfg.batchSize) : undefined;
      const score = valMetrics ? task.score(valMetrics) : -trainLoss;
      if (score > state.bestScore + (cfg.earlyStopping?.minDelta ?? 0)) {
        state.bestScore = score;
        state.bestEpoch = epoch;
        best = readWeights(model);
      }
      const record: EpochRecord = { epoch, trainLoss, val: valMetrics, lr, numTensors: tf.memory().numTensors, seconds: (Date.now() - t0) / 1000 };
      state = { ...state, epoch: epoch + 1, history: [...state.history, record] };
      if (cfg.checkpointDir) await saveCheckpoint(cfg.checkpointDir, state, { weights: readWeights(model), optimizer: ctx.optimizer.getState(), best });
      input.onEpochEnd?.(record);
    }
  } finally {
    await replicas?.close();
    ctx.optimizer.dispose();
    tf.dispose([...(ctx.proximal?.anchor ?? []), ...(ctx.masks ?? []).filter((m): m is tf.Tensor => m !== undefined)]);
  }
  if ((cfg.restoreBest ?? Boolean(val)) && best) writeWeights(model, best);
  const last = state.history[state.history.length - 1];
  const bestRecord = state.history.find((r) => r.epoch === state.bestEpoch);
  return {
    weights: readWeights(model),
    numExamples: train.n,
    metrics: { epochs: state.history.length, bestEpoch: state.bestEpoch, trainLoss: last?.trainLoss ?? NaN, val: bestRecord?.val, history: state.history, stoppedEarly },
  };
}
