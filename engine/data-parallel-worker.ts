// One replica of DataParallelTrainer: rebuilds the model, computes gradients on its shard
// of the batch and applies the averaged gradients with fused Adam.
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { FusedAdamOptimizer } from './adam.ts';
import { initBackend } from './backend.ts';
import type { FromReplica, ToReplica } from './data-parallel-protocol.ts';

interface Replica {
  model: tf.LayersModel;
  vars: tf.Variable[];
  opt: FusedAdamOptimizer;
  task: 'classification' | 'segmentation';
  x?: tf.Tensor;
  y?: tf.Tensor;
}

let replica: Replica | undefined;
const port = parentPort;
if (!port) throw new Error('data-parallel-worker must run in a worker thread');
const send = (m: FromReplica, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

async function init(m: Extract<ToReplica, { type: 'init' }>): Promise<void> {
  const choice = await initBackend(m.backend);
  const model = await tf.loadLayersModel(tf.io.fromMemory(m.model as tf.io.ModelArtifacts));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  replica = { model, vars, opt: new FusedAdamOptimizer(m.learningRate), task: m.task };
  send({ type: 'ready', backend: choice.name, gradientSize: vars.reduce((s, v) => s + v.size, 0) });
}

function gradients(r: Replica): void {
  const { x, y } = r;
  if (!x || !y) throw new Error('no data');
  const { value, grads } = tf.variableGrads(() => {
    const out = r.model.apply(x, { training: true }) as tf.Tensor;
    return r.task === 'segmentation' ? tf.losses.sigmoidCrossEntropy(y, out) : tf.losses.softmaxCrossEntropy(y, out);
  }, r.vars);
  const flat = new Float32Array(r.vars.reduce((s, v) => s + v.size, 0));
  let o = 0;
  for (const v of r.vars) {
    flat.set(grads[v.name].dataSync() as Float32Array, o);
    o += v.size;
  }
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  send({ type: 'grads', loss, flat }, [flat.buffer]);
}

function apply(r: Replica, flat: Float32Array): void {
  let o = 0;
  const named = r.vars.map((v) => {
    const t = tf.tensor(flat.subarray(o, o + v.size), v.shape);
    o += v.size;
    return { name: v.name, tensor: t };
  });
  r.opt.applyGradients(named);
  tf.dispose(named.map((n) => n.tensor));
}

function handle(m: ToReplica): Promise<void> | void {
  if (m.type === 'init') return init(m);
  const r = replica;
  if (!r) throw new Error(`replica got '${m.type}' before 'init'`);
  if (m.type === 'data') {
    tf.dispose([r.x, r.y].filter((t): t is tf.Tensor => t !== undefined));
    r.x = tf.tensor(m.x, m.xShape);
    r.y = tf.tensor(m.y, m.yShape);
  } else if (m.type === 'grads') gradients(r);
  else if (m.type === 'apply') apply(r, m.flat);
  else send({ type: 'weights', values: r.model.getWeights().map((w) => w.dataSync() as Float32Array) });
}

// Messages are handled strictly in order: 'init' is the only asynchronous one.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToReplica) => {
  queue = queue
    .then(() => handle(m))
    .catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
});
