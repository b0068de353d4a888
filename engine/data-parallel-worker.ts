// One replica of DataParallelTrainer: rebuilds the model and its loss, then, per request,
// takes the main thread's current weights and returns the gradients of the loss on its shard.
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { initBackend } from './backend.ts';
import { flatten, unflatten } from './data-parallel.ts';
import type { FromReplica, ReplicaLoss, Shard, ToReplica } from './data-parallel-protocol.ts';

interface Replica {
  model: tf.LayersModel;
  vars: tf.Variable[];
  loss: ReplicaLoss;
}

let replica: Replica | undefined;
const port = parentPort;
if (!port) throw new Error('data-parallel-worker must run in a worker thread');
const send = (m: FromReplica, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

async function init(m: Extract<ToReplica, { type: 'init' }>): Promise<void> {
  const choice = await initBackend(m.backend);
  const model = await tf.loadLayersModel(tf.io.fromMemory(m.model as tf.io.ModelArtifacts));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const mod = (await import(m.loss.module)) as Record<string, unknown>;
  const factory = mod[m.loss.factory];
  if (typeof factory !== 'function') throw new Error(`${m.loss.module} exports no function ${m.loss.factory}`);
  replica = { model, vars, loss: (factory as (o: unknown) => ReplicaLoss)(m.loss.options) };
  send({ type: 'ready', backend: choice.name, gradientSize: vars.reduce((s, v) => s + v.size, 0) });
}

function setWeights(r: Replica, flat: Float32Array): void {
  tf.tidy(() => unflatten(flat, r.vars).forEach((t, i) => r.vars[i].assign(t)));
}

function gradients(r: Replica, shard: Shard): void {
  const tensors = Object.fromEntries(Object.entries(shard).map(([k, a]) => [k, tf.tensor(a.data, a.shape, a.data instanceof Int32Array ? 'int32' : 'float32')]));
  try {
    const { value, grads } = tf.variableGrads(() => r.loss(r.model, tensors), r.vars);
    const flat = flatten(r.vars.map((v) => grads[v.name]));
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    send({ type: 'grads', loss, flat }, [flat.buffer]);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

function handle(m: ToReplica): Promise<void> | void {
  if (m.type === 'init') return init(m);
  const r = replica;
  if (!r) throw new Error(`replica got '${m.type}' before 'init'`);
  if (m.type === 'grads') {
    if (m.weights) setWeights(r, m.weights);
    gradients(r, m.shard);
  } else send({ type: 'state', values: r.model.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array) });
}

// Messages are handled strictly in order: 'init' is the only asynchronous one.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToReplica) => {
  queue = queue
    .then(() => handle(m))
    .catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
});
