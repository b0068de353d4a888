/**
 * The sites of the synthetic federation and how they differ, the way hospitals do: scanner
 * response, bit depth, signedness, photometric interpretation, transfer syntax, noise, blur,
 * matrix size, label prevalence (non-IID) and size. The first four sites are fixed archetypes;
 * further sites reuse them with jittered scanner settings.
 */
import { Rng } from '../../core/rng.ts';
import type { TransferSyntaxUid } from './dicom-writer.ts';
import { TransferSyntax } from './dicom-writer.ts';
import type { ScannerProfile } from './scanner.ts';

/** SOP classes the federation writes (PS3.4 Annex B.5). */
export const SopClass = {
  computedRadiography: '1.2.840.10008.5.1.4.1.1.1',
  digitalXRayForPresentation: '1.2.840.10008.5.1.4.1.1.1.1',
} as const;

/** Everything that makes one site's data its own. */
export interface SiteProfile {
  name: string;
  institution: string;
  manufacturer: string;
  model: string;
  modality: 'DX' | 'CR';
  sopClassUid: string;
  transferSyntax: TransferSyntaxUid;
  scanner: ScannerProfile;
  /** Matrix size relative to `--size` (the detector's resolution). */
  resolution: number;
  /** Fraction of images with a nodule. */
  prevalence: number;
  /** Number of images relative to `--images-per-site`. */
  sizeFactor: number;
}

type Archetype = Omit<SiteProfile, 'name' | 'sizeFactor'>;

const ARCHETYPES: Archetype[] = [
  {
    institution: 'Northgate University Hospital',
    manufacturer: 'Acme Imaging',
    model: 'FlatPanel DR 9',
    modality: 'DX',
    sopClassUid: SopClass.digitalXRayForPresentation,
    transferSyntax: TransferSyntax.explicitLittle,
    scanner: { gamma: 1, contrast: 0.8, offset: 0.05, blurSigma: 0.6, quantumNoise: 0.012, electronicNoise: 0.003, bitsStored: 16, signed: false, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: 0 },
    resolution: 1,
    prevalence: 0.45,
  },
  {
    institution: 'Riverside General',
    manufacturer: 'Borealis Medical',
    model: 'DRX Mobile 2',
    modality: 'DX',
    sopClassUid: SopClass.digitalXRayForPresentation,
    transferSyntax: TransferSyntax.explicitLittle,
    scanner: { gamma: 0.7, contrast: 0.7, offset: 0.15, blurSigma: 1, quantumNoise: 0.02, electronicNoise: 0.005, bitsStored: 12, signed: false, photometric: 'MONOCHROME1', rescaleSlope: 1, rescaleIntercept: 0 },
    resolution: 1,
    prevalence: 0.25,
  },
  {
    institution: 'St. Aldric Clinic',
    manufacturer: 'Corvid Systems',
    model: 'CR Reader 500',
    modality: 'CR',
    sopClassUid: SopClass.computedRadiography,
    transferSyntax: TransferSyntax.rleLossless,
    scanner: { gamma: 1.3, contrast: 0.6, offset: 0.2, blurSigma: 0.8, quantumNoise: 0.015, electronicNoise: 0.004, bitsStored: 16, signed: true, photometric: 'MONOCHROME2', rescaleSlope: 0.5, rescaleIntercept: 1000 },
    resolution: 0.75,
    prevalence: 0.6,
  },
  {
    institution: 'Hillcrest Community Hospital',
    manufacturer: 'Delta Radiology',
    model: 'CR 35',
    modality: 'CR',
    sopClassUid: SopClass.computedRadiography,
    transferSyntax: TransferSyntax.implicitLittle,
    scanner: { gamma: 0.85, contrast: 0.75, offset: 0.1, blurSigma: 1.5, quantumNoise: 0.028, electronicNoise: 0.008, bitsStored: 12, signed: true, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: 2048 },
    resolution: 0.5,
    prevalence: 0.35,
  },
];

/** Site names: site-a … site-z, then site-aa, site-ab, … */
export function siteName(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `site-${s}`;
}

/** A jittered copy of an archetype for sites past the fourth. */
function jitter(a: Archetype, rng: Rng): Archetype {
  const j = (v: number, rel: number): number => Math.round(v * rng.uniform(1 - rel, 1 + rel) * 1000) / 1000;
  return {
    ...a,
    institution: `${a.institution} (${rng.int(900) + 100})`,
    scanner: { ...a.scanner, gamma: j(a.scanner.gamma, 0.15), contrast: j(a.scanner.contrast, 0.1), offset: j(a.scanner.offset, 0.3), blurSigma: j(a.scanner.blurSigma, 0.3), quantumNoise: j(a.scanner.quantumNoise, 0.3) },
    prevalence: Math.min(0.8, Math.max(0.1, j(a.prevalence, 0.4))),
  };
}

/**
 * The profiles of `count` sites for a seed. Site 0 is the large hospital, holding
 * `largeFactor` times as many images as each other site.
 */
export function siteProfiles(count: number, seed: number, largeFactor: number): SiteProfile[] {
  return Array.from({ length: count }, (_, i) => {
    const base = ARCHETYPES[i % ARCHETYPES.length];
    const archetype = i < ARCHETYPES.length ? base : jitter(base, new Rng(seed).fork(`profile/${i}`));
    return { ...archetype, name: siteName(i), sizeFactor: i === 0 ? largeFactor : 1 };
  });
}
