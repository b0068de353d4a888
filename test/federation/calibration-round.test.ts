import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../client/agent.ts';
import type { SiteImages } from '../../client/calibration.ts';
import { openCoordinator, type Coordinator } from '../../coordinator/coordinator.ts';
import type { CoordinatorPrecisionReport } from '../../coordinator/int8-student.ts';
import { sha256 } from '../../core/files.ts';
import { packTensors, unpackTensors } from '../../core/tensors.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel, getNamedWeights, setNamedWeights } from '../../models/index.ts';
import { decodeWeights, encodeWeights } from '../../proto/convert.ts';
import { InProcessLink } from '../../proto/in-process-link.ts';
import type { Task } from '../../proto/types.ts';
import { nchwBatches } from '../../quantize/agreement.ts';
import { ActivationProbe, collectHistograms, collectRanges, histogramEdges } from '../../quantize/calibration/collect.ts';
import { decodeHistograms, decodeRanges, federatedRanges } from '../../quantize/calibration/federated.ts';
import type { CalibrationMethod } from '../../quantize/calibration/methods.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { activationsToQuantize, quantizeStatic } from '../../quantize/qdq/index.ts';
import { decodeModel } from '../../quantize/qdq/onnx-tensors.ts';
import { perturbWeights } from '../quantize/compare.ts';
import { echoSite as site, FAST, MODEL, siteImages, SIZE, TRAINING } from './calibration-sites.ts';
import { federationConfig, tempDir, tokenHashes, TOKENS } from './fixtures.ts';

/** The final global model of the run, exported to FP32 ONNX here (independently of the coordinator). */
function finalFp32(stateDir: string): Uint8Array {
  const model = buildModel('cnn-s', MODEL);
  setNamedWeights(model, unpackTensors(new Uint8Array(readFileSync(path.join(stateDir, 'final-model.fkw')))));
  const bytes = exportOnnx(model);
  model.dispose();
  return bytes;
}

const read = (dir: string, f: string): Uint8Array => new Uint8Array(readFileSync(path.join(dir, 'final-model', f)));

describe('federated calibration scheduled by the round engine after the last round', () => {
  let coord: Coordinator | null = null;
  let images: Record<string, SiteImages>;
  let pooled: SiteImages;
  let initial: Uint8Array;

  beforeAll(async () => {
    await initBackend('cpu');
    images = { a: siteImages(6, 11, 1), b: siteImages(5, 12, 2.5), c: siteImages(4, 13, 0.5) };
    pooled = { n: 15, size: SIZE, channels: 1, x: new Float32Array([...images.a.x, ...images.b.x, ...images.c.x]) };
    const model = buildModel('cnn-s', MODEL);
    perturbWeights(model, 3);
    initial = packTensors(getNamedWeights(model));
    model.dispose();
  });
  afterEach(() => {
    coord?.close();
    coord = null;
  });

  const configIn = (dir: string, method: CalibrationMethod) => {
    const config = federationConfig(dir, { rounds: 1, evaluate: false, training: TRAINING, quantize: { method, latencyRuns: 3 } });
    writeFileSync(config.model.initialWeights, initial);
    return config;
  };

  it('percentile: three agents give the ranges and INT8 model of pooled single-machine calibration; report and audit', async () => {
    const dir = tempDir('calib-round');
    const config = configIn(dir, 'percentile');
    coord = await openCoordinator(config, tokenHashes());
    const reports = await Promise.all(['a', 'b', 'c'].map((id) => runAgent({ siteId: id, link: new InProcessLink(coord!.service, id, TOKENS[id]), trainer: site(images[id]), backoff: FAST })));
    await coord.finished;
    expect(reports.map((r) => r.calibratedRounds)).toEqual([[2, 3], [2, 3], [2, 3]]);

    const fp32 = finalFp32(config.stateDir);
    expect(sha256(read(config.stateDir, 'model.fp32.onnx'))).toBe(sha256(fp32));
    const single = await quantizeStatic(fp32, nchwBatches(pooled, 4), { method: 'percentile' });
    const stats = unpackTensors(read(config.stateDir, 'calibration.fkw'));
    expect(federatedRanges({ method: 'percentile' }, decodeRanges(stats), decodeHistograms(stats, {}))).toEqual(single.ranges);
    expect(sha256(read(config.stateDir, 'model.int8.onnx'))).toBe(sha256(single.bytes));

    const report = JSON.parse(readFileSync(path.join(config.stateDir, 'final-model', 'report.json'), 'utf8')) as CoordinatorPrecisionReport;
    expect(report.rows.map((r) => [r.precision, r.fileBytes])).toEqual([['fp32', fp32.length], ['int8', single.bytes.length]]);
    expect(report.calibration).toMatchObject({ method: 'percentile', source: 'federated', images: 15, sites: 3 });
    const speedup = report.rows[0].latencyMs.batch32 / report.rows[1].latencyMs.batch32;
    expect(report.rows[1].speedupBatch32).toBeCloseTo(speedup, 9);
    expect(report.chosen.precision).toBe(speedup >= 1.1 ? 'int8' : 'fp32');

    const log = coord.store.auditLog();
    for (const id of ['a', 'b', 'c']) expect(log.filter((e) => e.siteId === id && e.action === 'push' && e.detail.includes('calibrate')).length).toBe(2);
    expect(log.filter((e) => e.action === 'calibration-complete').length).toBe(1);
  }, 120_000);

  it('a restart in the histogram phase resumes it: a repeated push is a duplicate, counts equal the pooled ones exactly', async () => {
    const dir = tempDir('calib-restart');
    const config = configIn(dir, 'entropy');
    coord = await openCoordinator(config, tokenHashes());
    const links = (c: Coordinator): Record<string, InProcessLink> => Object.fromEntries(['a', 'b', 'c'].map((id) => [id, new InProcessLink(c.service, id, TOKENS[id])]));
    let l = links(coord);
    for (const id of ['a', 'b', 'c']) await l[id].register({ datasetSize: images[id].n, capabilities: {} });
    const pull = async (id: string, kind: Task['kind']): Promise<Task> => {
      for (let i = 0; i < 200; i++) {
        const t = await l[id].pullTask();
        if (t.kind === kind) return t;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`site ${id} got no ${kind} task`);
    };
    const answer = async (id: string, t: Task): Promise<string> => {
      const global = decodeWeights(await l[id].fetchModel(t.modelSha256));
      if (t.kind === 'train') return (await l[id].pushResult({ round: t.round, kind: 'train', numExamples: images[id].n, metrics: {}, isDelta: false, baseSha256: t.modelSha256, payload: encodeWeights(global) })).status;
      const out = await site(images[id]).calibrate!(global, t.config);
      return (await l[id].pushResult({ round: t.round, kind: 'calibrate', numExamples: out.numExamples, metrics: {}, isDelta: false, baseSha256: t.modelSha256, payload: encodeWeights(out.stats) })).status;
    };
    for (const id of ['a', 'b', 'c']) expect(await answer(id, await pull(id, 'train'))).toBe('accepted');
    for (const id of ['a', 'b', 'c']) expect(await answer(id, await pull(id, 'calibrate'))).toBe('accepted');
    const histA = await pull('a', 'calibrate');
    expect(histA.round).toBe(3);
    // the student's keys travel with the calibrate task, so a KdTrainer builds the model the weights belong to
    expect(histA.config).toMatchObject({ ...TRAINING, localEpochs: 0, round: 3 });
    expect(await answer('a', histA)).toBe('accepted');
    coord.close();

    coord = await openCoordinator(config, tokenHashes());
    l = links(coord);
    expect(await answer('a', histA)).toBe('duplicate');
    expect((await l.a.pullTask()).kind).toBe('wait');
    for (const id of ['b', 'c']) {
      const t = await pull(id, 'calibrate');
      expect(t.config).toEqual(histA.config);
      expect(await answer(id, t)).toBe('accepted');
    }
    await coord.finished;
    expect(coord.store.results(3, 'calibrate', 'accepted').map((r) => r.siteId).sort()).toEqual(['a', 'b', 'c']);

    const fp32 = finalFp32(config.stateDir);
    const probe = await ActivationProbe.open(fp32, activationsToQuantize(decodeModel(fp32).graph!));
    const ranges = await collectRanges(probe, nchwBatches(pooled, 4));
    const edges = histogramEdges(ranges);
    const hists = await collectHistograms(probe, nchwBatches(pooled, 4), edges, (histA.config!.calibration as { bins: number }).bins);
    await probe.release();
    const stats = unpackTensors(read(config.stateDir, 'calibration.fkw'));
    const got = decodeHistograms(stats, Object.fromEntries(edges));
    expect([...got.keys()].sort()).toEqual([...hists.keys()].sort());
    for (const [t, h] of hists) expect(Array.from(got.get(t)!.counts)).toEqual(Array.from(h.counts));
    const single = await quantizeStatic(fp32, nchwBatches(pooled, 4), { method: 'entropy' });
    expect(federatedRanges({ method: 'entropy' }, decodeRanges(stats), got)).toEqual(single.ranges);
    expect(sha256(read(config.stateDir, 'model.int8.onnx'))).toBe(sha256(single.bytes));
  }, 120_000);
});
