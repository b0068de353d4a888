import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../client/agent.ts';
import { calibrateOnSite, calibrationRequestOf, type SiteImages } from '../../client/calibration.ts';
import type { SiteTrainer } from '../../client/site-trainer.ts';
import { FederatedCalibrator } from '../../coordinator/calibration.ts';
import { sha256 } from '../../core/files.ts';
import type { NamedTensor } from '../../core/tensors.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel, getNamedWeights, setNamedWeights } from '../../models/index.ts';
import type { CoordinatorLink } from '../../proto/api.ts';
import { decodeWeights, encodeWeights, taskFromWire, taskToWire } from '../../proto/convert.ts';
import type { ReceivedResult, Task } from '../../proto/types.ts';
import { nchwBatches } from '../../quantize/agreement.ts';
import { decodeHistograms, encodeHistograms } from '../../quantize/calibration/federated.ts';
import type { CalibrationMethod } from '../../quantize/calibration/methods.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { quantizeStatic, quantizeWithRanges } from '../../quantize/qdq/index.ts';
import { perturbWeights } from './compare.ts';

const SIZE = 16;
const ARCH = 'cnn-s';
const OPTS = { inputSize: SIZE, numClasses: 2, seed: 9 };

/** Seeded images in data/'s NHWC layout, with a site-specific brightness so the sites differ. */
function siteImages(n: number, seed: number, gain: number): SiteImages {
  const x = tf.randomUniform([n, SIZE, SIZE, 1], 0, gain, 'float32', seed);
  return { n, size: SIZE, channels: 1, x: x.dataSync() as Float32Array };
}

/** A hospital that only calibrates: builds the student from the fetched weights, runs client/calibration.ts on its own images. */
function calibratingSite(images: SiteImages): SiteTrainer {
  return {
    datasetSize: async () => images.n,
    capabilities: async () => ({}),
    fit: async () => {
      throw new Error('not asked');
    },
    evaluate: async () => {
      throw new Error('not asked');
    },
    calibrate: async (global: NamedTensor[], config) => {
      const model = buildModel(ARCH, OPTS);
      setNamedWeights(model, global);
      return calibrateOnSite(model, images, config);
    },
  };
}

/** A coordinator link that serves only the calibration phases (FederatedCalibrator), tasks passed through the wire encoding. */
function calibrationLink(siteId: string, cal: FederatedCalibrator, sites: number, model: Uint8Array): CoordinatorLink {
  const sha = sha256(model);
  let round = 1;
  return {
    register: async () => ({ runId: 'calib', heartbeatMs: 60_000 }),
    pullTask: async (): Promise<Task> => {
      const req = cal.request();
      const task: Task = !req
        ? { kind: 'done', round, modelSha256: sha, config: null, retryAfterMs: 0 }
        : cal.answered().includes(siteId)
          ? { kind: 'wait', round, modelSha256: '', config: null, retryAfterMs: 5 }
          : { kind: 'calibrate', round: req.phase === 'ranges' ? 1 : 2, modelSha256: sha, config: cal.taskConfig(round), retryAfterMs: 0 };
      return taskFromWire(taskToWire(task));
    },
    fetchModel: async () => model.slice(),
    pushResult: async (r: ReceivedResult) => {
      expect(r.kind).toBe('calibrate');
      const status = cal.receive(siteId, r.payload.slice(), r.numExamples);
      if (cal.answered().length === sites) {
        cal.closePhase();
        round++;
      }
      return { status, detail: '' };
    },
    heartbeat: async () => ({ serverTimeMs: 0 }),
    close: () => {},
  };
}

describe('federated calibration (sites send statistics, the coordinator merges)', () => {
  let weights: NamedTensor[];
  let fp32: Uint8Array;
  const siteA = () => siteImages(6, 11, 1);
  const siteB = () => siteImages(5, 12, 2.5);

  beforeAll(async () => {
    await initBackend('cpu');
    const model = buildModel(ARCH, OPTS);
    perturbWeights(model, 3);
    weights = getNamedWeights(model);
    fp32 = exportOnnx(model);
  });

  it.each(['minmax', 'percentile', 'entropy'] as CalibrationMethod[])('%s: two agents over the task flow give the same INT8 model as calibrating the pooled images on one machine', async (method) => {
    const a = siteA();
    const b = siteB();
    const cal = new FederatedCalibrator({ method });
    const packed = encodeWeights(weights);
    const reports = await Promise.all([
      runAgent({ siteId: 'site-a', link: calibrationLink('site-a', cal, 2, packed), trainer: calibratingSite(a) }),
      runAgent({ siteId: 'site-b', link: calibrationLink('site-b', cal, 2, packed), trainer: calibratingSite(b) }),
    ]);
    expect(reports.map((r) => r.calibratedRounds)).toEqual(method === 'minmax' ? [[1], [1]] : [[1, 2], [1, 2]]);
    expect(cal.numExamples()).toBe(11);

    const pooled = { n: 11, size: SIZE, channels: 1, x: new Float32Array([...a.x, ...b.x]) };
    const single = await quantizeStatic(fp32, nchwBatches(pooled, 4), { method });
    expect(cal.ranges()).toEqual(single.ranges);
    const federated = quantizeWithRanges(fp32, cal.ranges());
    expect(sha256(federated)).toBe(sha256(single.bytes));
    // the percentile/entropy ranges are not just the min/max (the histogram phase mattered)
    if (method !== 'minmax') {
      const minmax = await quantizeStatic(fp32, nchwBatches(pooled), { method: 'minmax' });
      expect([...single.ranges].some(([t, r]) => r.max < minmax.ranges.get(t)!.max)).toBe(true);
    }
  });

  it('histogram counts above 2^24 cross the float32 wire exactly', () => {
    const counts = Float64Array.from([2 ** 30 + 5, 16_777_217, 0, 3]);
    const h = new Map([['t', { hi: 2.5, min: -1, max: 2.5, counts }]]);
    const back = decodeHistograms(decodeWeights(encodeWeights(encodeHistograms(h))), { t: 2.5 }).get('t')!;
    expect(Array.from(back.counts)).toEqual(Array.from(counts));
    expect([back.hi, back.min, back.max]).toEqual([2.5, -1, 2.5]);
  });

  it('reads the request from the task config and refuses a malformed one', () => {
    expect(calibrationRequestOf({ round: 1, localEpochs: 0, calibration: { phase: 'ranges' } })).toEqual({ phase: 'ranges' });
    expect(calibrationRequestOf({ round: 1, localEpochs: 0, calibration: { phase: 'histograms', edges: { x: 1 }, bins: 8 } })).toEqual({ phase: 'histograms', edges: { x: 1 }, bins: 8 });
    expect(() => calibrationRequestOf({ round: 1, localEpochs: 0 })).toThrow(/valid calibration request/);
    expect(() => calibrationRequestOf({ round: 1, localEpochs: 0, calibration: { phase: 'histograms', edges: { x: -1 }, bins: 8 } })).toThrow(/edge of x/);
  });
});
