import { beforeAll, describe, expect, it } from 'vitest';
import { KdTrainer, studentSpec } from '../../client/kd-trainer.ts';
import type { NamedTensor } from '../../core/tensors.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { getNamedWeights, setNamedWeights } from '../../models/weights.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { nchwBatches } from '../../quantize/agreement.ts';
import { ActivationProbe, collectHistograms, collectRanges, histogramEdges } from '../../quantize/calibration/collect.ts';
import { decodeHistograms, decodeRanges } from '../../quantize/calibration/federated.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { activationsToQuantize } from '../../quantize/qdq/index.ts';
import { decodeModel } from '../../quantize/qdq/onnx-tensors.ts';
import { loadSitePart } from '../../train/site-data.ts';
import { KD_SIZE, kdSite } from './kd-site.ts';

const SIZE = KD_SIZE;
const CONFIG: RoundConfig = { round: 1, localEpochs: 0, arch: 'cnn-s', imageSize: SIZE, widthMultiplier: 0.25, normalize: 'zscore' };

describe('KdTrainer.calibrate: federated calibration statistics on the site’s own images', () => {
  let site: string;
  let teacher: string;
  let global: NamedTensor[];

  beforeAll(async () => {
    await initBackend();
    ({ site, teacher } = await kdSite('kd-calibrate', 16, 5, 2));
    global = getNamedWeights(buildModel('cnn-s', { inputSize: SIZE, inputChannels: 1, numClasses: 2, widthMultiplier: studentSpec(CONFIG).widthMultiplier, seed: 8 }));
  });

  it('answers both phases with the statistics ORT gives on the training split, loaded independently', async () => {
    const t = new KdTrainer(site, teacher);
    const ranges = await t.calibrate(global, { ...CONFIG, calibration: { phase: 'ranges' } });
    const train = (await loadSitePart(site, 'train', { size: SIZE, channels: 1, window: 'file', normalize: 'zscore' }))!;
    expect(ranges.numExamples).toBe(train.n);

    const model = buildModel('cnn-s', { inputSize: SIZE, inputChannels: 1, numClasses: 2, widthMultiplier: 0.25, seed: 99 });
    setNamedWeights(model, global);
    const fp32 = exportOnnx(model);
    const probe = await ActivationProbe.open(fp32, activationsToQuantize(decodeModel(fp32).graph!));
    const want = await collectRanges(probe, nchwBatches(train, 5));
    expect(decodeRanges(ranges.stats)).toEqual(want);

    const edges = Object.fromEntries(histogramEdges(want));
    const hists = await t.calibrate(global, { ...CONFIG, calibration: { phase: 'histograms', edges, bins: 64 } });
    const wantHists = await collectHistograms(probe, nchwBatches(train, 7), histogramEdges(want), 64);
    await probe.release();
    const got = decodeHistograms(hists.stats, edges);
    expect([...got.keys()]).toEqual([...wantHists.keys()]);
    for (const [k, h] of wantHists) expect(Array.from(got.get(k)!.counts)).toEqual(Array.from(h.counts));
  });
});
