import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import type { NamedTensor } from '../core/tensors.ts';
import type { RoundConfig } from '../proto/types.ts';
import { nchwBatches } from '../quantize/agreement.ts';
import { type CalibrationRequest, siteCalibrationStats } from '../quantize/calibration/federated.ts';
import { exportOnnx } from '../quantize/export/index.ts';

/** A site's calibration result: statistics only, and how many images made them. */
export interface CalibrateOutput {
  numExamples: number;
  stats: NamedTensor[];
}

/** Images in data/'s layout (N·H·W·C). */
export interface SiteImages {
  n: number;
  size: number;
  channels: number;
  x: Float32Array;
}

/** The calibration request in a calibrate task's config (`config.calibration`); a malformed one is a UserError. */
export function calibrationRequestOf(config: RoundConfig | null): CalibrationRequest {
  const r = config?.calibration as Partial<{ phase: string; edges: Record<string, number>; bins: number }> | undefined;
  if (r?.phase === 'ranges') return { phase: 'ranges' };
  if (r?.phase === 'histograms' && r.edges && typeof r.edges === 'object' && Number.isInteger(r.bins) && Number(r.bins) > 0) {
    for (const [t, v] of Object.entries(r.edges)) if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new UserError(`calibrate task: edge of ${t} is not a finite number >= 0`);
    return { phase: 'histograms', edges: r.edges, bins: Number(r.bins) };
  }
  throw new UserError(`calibrate task without a valid calibration request (phase 'ranges' or 'histograms' with edges and bins)`);
}

/**
 * Federated calibration on a site: exports the global student (already holding the round's
 * weights) to FP32 ONNX and computes the requested statistics on the site's own images with
 * ONNX Runtime (quantize/calibration/federated.ts). The images never leave this process.
 */
export async function calibrateOnSite(model: tf.LayersModel, images: SiteImages, config: RoundConfig | null): Promise<CalibrateOutput> {
  const req = calibrationRequestOf(config);
  const stats = await siteCalibrationStats(exportOnnx(model), nchwBatches(images), req);
  return { numExamples: images.n, stats };
}
