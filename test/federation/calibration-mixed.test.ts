import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type AgentEvent } from '../../client/agent.ts';
import { openCoordinator } from '../../coordinator/coordinator.ts';
import type { CoordinatorPrecisionReport } from '../../coordinator/int8-student.ts';
import { sha256 } from '../../core/files.ts';
import { packTensors, unpackTensors } from '../../core/tensors.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel, getNamedWeights, setNamedWeights } from '../../models/index.ts';
import { InProcessLink } from '../../proto/in-process-link.ts';
import { nchwBatches } from '../../quantize/agreement.ts';
import { decodeHistograms, decodeRanges, federatedRanges } from '../../quantize/calibration/federated.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { quantizeStatic } from '../../quantize/qdq/index.ts';
import { perturbWeights } from '../quantize/compare.ts';
import { echoSite as site, FAST, MODEL, siteImages, SIZE, TRAINING } from './calibration-sites.ts';
import { federationConfig, tempDir, tokenHashes, TOKENS } from './fixtures.ts';

describe('a mixed federation: one site can calibrate, one cannot', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('calibrates from the able site only: ranges and INT8 model equal single-machine calibration on its images', async () => {
    const images = { a: siteImages(6, 21, 1.5), b: siteImages(5, 22, 4) };
    const model = buildModel('cnn-s', MODEL);
    perturbWeights(model, 5);
    const initial = packTensors(getNamedWeights(model));
    model.dispose();
    const dir = tempDir('calib-mixed');
    const config = federationConfig(dir, { rounds: 1, evaluate: false, training: TRAINING, sampling: { fraction: 1, minSites: 2, minResults: 2 }, quantize: { method: 'percentile', latencyRuns: 3 } });
    writeFileSync(config.model.initialWeights, initial);
    const coord = await openCoordinator(config, tokenHashes(['a', 'b']));
    try {
      const calibrateTasks: Record<string, number[]> = { a: [], b: [] };
      const onEvent = (id: string) => (e: AgentEvent) => void (e.type === 'task' && e.task.kind === 'calibrate' && calibrateTasks[id].push(e.task.round));
      const reports = await Promise.all(
        (['a', 'b'] as const).map((id) => runAgent({ siteId: id, link: new InProcessLink(coord.service, id, TOKENS[id]), trainer: site(images[id], id === 'a'), backoff: FAST, onEvent: onEvent(id) })),
      );
      await coord.finished;
      expect(coord.store.site('a')!.capabilities).toEqual({ trainer: 'echo', calibrate: 'yes' });
      expect(coord.store.site('b')!.capabilities).toEqual({ trainer: 'echo', calibrate: 'no' });
      expect(reports.map((r) => r.calibratedRounds)).toEqual([[2, 3], undefined]);
      expect(calibrateTasks).toEqual({ a: [2, 3], b: [] });
      for (const round of [2, 3]) expect(coord.store.results(round, 'calibrate').map((r) => [r.siteId, r.status])).toEqual([['a', 'accepted']]);

      // the reference: the final model (the initial one, echoed) calibrated on site a's images alone
      const ref = buildModel('cnn-s', MODEL);
      setNamedWeights(ref, unpackTensors(new Uint8Array(readFileSync(path.join(config.stateDir, 'final-model.fkw')))));
      const fp32 = exportOnnx(ref);
      ref.dispose();
      const single = await quantizeStatic(fp32, nchwBatches(images.a, 4), { method: 'percentile' });
      const read = (f: string): Uint8Array => new Uint8Array(readFileSync(path.join(config.stateDir, 'final-model', f)));
      const stats = unpackTensors(read('calibration.fkw'));
      expect(federatedRanges({ method: 'percentile' }, decodeRanges(stats), decodeHistograms(stats, {}))).toEqual(single.ranges);
      expect(sha256(read('model.int8.onnx'))).toBe(sha256(single.bytes));
      // and not what the union of both sites would give (site b's brighter images widen the ranges)
      const pooled = { n: 11, size: SIZE, channels: 1, x: new Float32Array([...images.a.x, ...images.b.x]) };
      expect((await quantizeStatic(fp32, nchwBatches(pooled, 4), { method: 'percentile' })).ranges).not.toEqual(single.ranges);

      const report = JSON.parse(readFileSync(path.join(config.stateDir, 'final-model', 'report.json'), 'utf8')) as CoordinatorPrecisionReport;
      expect(report).toMatchObject({ int8: 'written', calibration: { method: 'percentile', source: 'federated', images: 6, sites: 1 } });
      expect(report.calibration.skipped).toBeUndefined();
      const phases = coord.store.auditLog().filter((e) => e.action.startsWith('calibration-')).map((e) => e.detail);
      expect(phases).toEqual([
        'calibration (percentile) of the final model: ranges phase, asked a',
        'calibration ranges phase merged from a; histograms phase, asked a',
        'calibration histograms phase merged from a; calibration complete',
      ]);
    } finally {
      coord.close();
    }
  }, 120_000);
});
