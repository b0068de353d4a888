import * as tf from '@tensorflow/tfjs';
import { calibrateOnSite, type SiteImages } from '../../client/calibration.ts';
import type { SiteTrainer } from '../../client/site-trainer.ts';
import type { NamedTensor } from '../../core/tensors.ts';
import { buildModel, setNamedWeights } from '../../models/index.ts';

/** Image side of the calibration tests' tiny cnn-s student. */
export const SIZE = 16;
/** The round config's student keys (every site builds the same cnn-s). */
export const TRAINING = { localEpochs: 1, arch: 'cnn-s', imageSize: SIZE, widthMultiplier: 0.5, seed: 9 };
/** buildModel options of that student. */
export const MODEL = { inputSize: SIZE, inputChannels: 1, numClasses: 2, widthMultiplier: 0.5, seed: 9 };
/** A quick client backoff for in-process federations. */
export const FAST = { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0.1, giveUpMs: 20_000 };

/** Seeded NHWC images; each site has its own brightness, so one site's statistics differ from the union's. */
export function siteImages(n: number, seed: number, gain: number): SiteImages {
  const x = tf.randomUniform([n, SIZE, SIZE, 1], 0, gain, 'float32', seed);
  const out = { n, size: SIZE, channels: 1, x: x.dataSync() as Float32Array };
  x.dispose();
  return out;
}

/** A site that sends the global weights back unchanged; unless `calibrates` is false, it calibrates on its images (client/calibration.ts). */
export function echoSite(images: SiteImages, calibrates = true): SiteTrainer {
  const base: SiteTrainer = {
    datasetSize: async () => images.n,
    capabilities: async () => ({ trainer: 'echo' }),
    fit: async (global: NamedTensor[]) => ({ weights: global, numExamples: images.n, metrics: { loss: 0 } }),
    evaluate: async () => ({ numExamples: images.n, metrics: {} }),
  };
  if (!calibrates) return base;
  return {
    ...base,
    calibrate: async (global, config) => {
      const model = buildModel('cnn-s', MODEL);
      setNamedWeights(model, global);
      const out = await calibrateOnSite(model, images, config);
      model.dispose();
      return out;
    },
  };
}
