import type { NamedTensor } from '../core/tensors.ts';
import { decodeWeights } from '../proto/convert.ts';
import type { RoundConfig } from '../proto/types.ts';
import { bySite } from './evaluation.ts';
import type { CalibrateOptions } from '../quantize/calibration/collect.ts';
import {
  type CalibrationRequest,
  encodeHistograms,
  encodeRanges,
  federatedRanges,
  histogramRequest,
  mergeSiteHistograms,
  mergeSiteRanges,
} from '../quantize/calibration/federated.ts';
import type { AbsHistogram, TensorRange } from '../quantize/calibration/histogram.ts';

/**
 * The coordinator's side of federated calibration for one global model: it hands out the
 * phase's request (in a calibrate task's `config.calibration`), collects the sites' packed
 * statistics, and after the last phase yields the activation ranges for quantizeWithRanges.
 * MinMax needs the ranges phase only; Percentile and Entropy add the histograms phase with
 * edges fixed from the merged ranges. Holds statistics only, never images.
 */
export class FederatedCalibrator {
  private phase: CalibrationRequest | null = { phase: 'ranges' };
  private received = new Map<string, NamedTensor[]>();
  private merged: Map<string, TensorRange> | null = null;
  private hists: Map<string, AbsHistogram> | undefined;
  private examples = 0;

  constructor(private readonly o: CalibrateOptions) {}

  /** The current phase's request, or null once calibration is complete. */
  request(): CalibrationRequest | null {
    return this.phase;
  }

  /** The config of a calibrate task for the current phase. */
  taskConfig(round: number): RoundConfig {
    return { round, localEpochs: 0, calibration: this.phase };
  }

  /** Sites whose statistics arrived in the current phase. */
  answered(): string[] {
    return [...this.received.keys()];
  }

  /** Takes a site's statistics (packed NamedTensors, as pushed); a site's second answer in a phase is ignored. */
  receive(siteId: string, payload: Uint8Array, numExamples: number): 'accepted' | 'duplicate' {
    if (!this.phase || this.received.has(siteId)) return 'duplicate';
    this.received.set(siteId, decodeWeights(payload));
    if (this.phase.phase === 'ranges') this.examples += numExamples;
    return 'accepted';
  }

  /** Merges the phase's answers and moves on: ranges → histograms (unless minmax) → complete. */
  closePhase(): void {
    // in site order, as the rounds' sums (evaluation.ts bySite): the same answers merge to the same statistics
    const sites = bySite([...this.received].map(([siteId, stats]) => ({ siteId, stats }))).map((r) => r.stats);
    if (!this.phase || sites.length === 0) throw new Error('no calibration statistics to merge');
    if (this.phase.phase === 'ranges') {
      this.merged = mergeSiteRanges(sites);
      this.phase = this.o.method === 'minmax' ? null : histogramRequest(this.merged, this.o.bins);
    } else {
      this.hists = mergeSiteHistograms(sites, this.phase);
      this.phase = null;
    }
    this.received.clear();
  }

  /** Images behind the statistics (sum of the sites' counts in the ranges phase). */
  numExamples(): number {
    return this.examples;
  }

  /** The chosen activation ranges; only once complete. */
  ranges(): Map<string, TensorRange> {
    if (this.phase || !this.merged) throw new Error('calibration is not complete');
    return federatedRanges(this.o, this.merged, this.hists);
  }

  /** The merged statistics as named tensors (what `fedkd quantize --federated FILE` reads, packed). */
  mergedStats(): NamedTensor[] {
    if (this.phase || !this.merged) throw new Error('calibration is not complete');
    return [...encodeRanges(this.merged), ...(this.hists ? encodeHistograms(this.hists) : [])];
  }
}
