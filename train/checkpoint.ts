import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../core/errors.ts';
import { sha256, writeFileAtomic } from '../core/files.ts';
import { packTensors, unpackTensors, type NamedTensor } from '../core/tensors.ts';
import type { Metrics } from './types.ts';

/** What one epoch did: mean training loss, validation metrics, learning rate at its end, live tensors after it. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  val?: Metrics;
  lr: number;
  numTensors: number;
  seconds: number;
}

/** The loop's state after an epoch: enough to continue exactly where it stopped. */
export interface CheckpointState {
  version: 1;
  /** Hash of the training config and data; a checkpoint from another run is refused. */
  runKey: string;
  /** Epochs completed. */
  epoch: number;
  step: number;
  bestScore: number;
  bestEpoch: number;
  history: EpochRecord[];
}

/** A checkpoint's tensors: the model, the optimiser and the best weights so far. */
export interface CheckpointTensors {
  weights: NamedTensor[];
  optimizer: NamedTensor[];
  best?: NamedTensor[];
}

const STATE_FILE = 'checkpoint.json';

const prefixed = (p: string, ts: readonly NamedTensor[]): NamedTensor[] => ts.map((t) => ({ ...t, name: `${p}${t.name}` }));
const unprefixed = (p: string, ts: readonly NamedTensor[]): NamedTensor[] => ts.filter((t) => t.name.startsWith(p)).map((t) => ({ ...t, name: t.name.slice(p.length) }));

/**
 * Writes a checkpoint into `dir`: the tensors to `ckpt-<epoch>.bin`, then `checkpoint.json`
 * (naming that file and its sha256) by atomic rename, which is the commit point. A run killed
 * at any moment leaves the previous checkpoint or the new one, whole. Older tensor files are removed.
 */
export async function saveCheckpoint(dir: string, state: CheckpointState, tensors: CheckpointTensors): Promise<void> {
  const buf = packTensors([...prefixed('w/', tensors.weights), ...prefixed('o/', tensors.optimizer), ...prefixed('b/', tensors.best ?? [])]);
  const file = `ckpt-${state.epoch}.bin`;
  await writeFileAtomic(path.join(dir, file), buf);
  await writeFileAtomic(path.join(dir, STATE_FILE), JSON.stringify({ ...state, tensorsFile: file, tensorsSha256: sha256(buf) }, null, 1));
  for (const f of await readdir(dir)) if (/^ckpt-\d+\.bin$/.test(f) && f !== file) await rm(path.join(dir, f), { force: true });
}

/**
 * Reads the checkpoint in `dir`, or undefined when there is none. Throws a UserError when it
 * belongs to another run (different config or data) or its tensors do not match their hash.
 */
export async function loadCheckpoint(dir: string, runKey: string): Promise<{ state: CheckpointState; tensors: CheckpointTensors } | undefined> {
  let raw: string;
  try {
    raw = await readFile(path.join(dir, STATE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const meta = JSON.parse(raw) as CheckpointState & { tensorsFile: string; tensorsSha256: string };
  if (meta.runKey !== runKey) {
    throw new UserError(`${dir} holds a checkpoint of a different run (other settings or data); remove it or choose another output folder`);
  }
  const buf = new Uint8Array(await readFile(path.join(dir, meta.tensorsFile)));
  if (sha256(buf) !== meta.tensorsSha256) throw new UserError(`checkpoint ${path.join(dir, meta.tensorsFile)} is damaged (sha256 mismatch)`);
  const all = unpackTensors(buf);
  const best = unprefixed('b/', all);
  const { tensorsFile: _f, tensorsSha256: _h, ...state } = meta;
  return { state, tensors: { weights: unprefixed('w/', all), optimizer: unprefixed('o/', all), best: best.length ? best : undefined } };
}
