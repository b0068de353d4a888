import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSession } from '../../runtime/session.ts';
import { openerWith } from '../../runtime/variant.ts';
import { sumClassifier, writeVersion } from './fixtures/tiny-onnx.ts';

afterEach(() => vi.restoreAllMocks());

/** The options openSession hands to onnxruntime-node, captured from InferenceSession.create. */
async function optionsFor(opts: Parameters<typeof openSession>[1]): Promise<ort.InferenceSession.SessionOptions> {
  const create = vi.spyOn(ort.InferenceSession, 'create');
  const s = await openSession(sumClassifier(1, 0), opts);
  await s.release();
  return create.mock.calls.at(-1)?.[1] as ort.InferenceSession.SessionOptions;
}

describe('openSession thread options', () => {
  it("turns ORT's intra-op spinning off with its session config key, and leaves ORT's default otherwise", async () => {
    expect((await optionsFor({ provider: 'cpu', spinning: false })).extra).toEqual({ session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } });
    expect((await optionsFor({ provider: 'cpu' })).extra).toBeUndefined();
    expect((await optionsFor({ provider: 'cpu', spinning: true })).extra).toBeUndefined();
    expect(await optionsFor({ provider: 'cpu', threads: 1 })).toMatchObject({ intraOpNumThreads: 1, interOpNumThreads: 1 });
  });

  it("serve's opener (no spinning, one intra-op thread) runs the model to the hand-computed logits", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'fedkd-session-'));
    const file = writeVersion(root, '1', sumClassifier(2, -1));
    const s = await openerWith({ spinning: false, threads: 1 })(file, 'cpu');
    // sumClassifier(a, b) answers [a·Σx, b]: Σ[1, 2, 3, 4] = 10 → [20, −1]; Σ[4, 3, 2, 1.5] = 10.5 → [21, −1]
    const out = await s.run({ input: { data: new Float32Array([1, 2, 3, 4, 4, 3, 2, 1.5]), dims: [2, 1, 2, 2] } });
    expect(Array.from(out[s.outputNames[0]].data)).toEqual([20, -1, 21, -1]);
    await s.release();
  });
});
