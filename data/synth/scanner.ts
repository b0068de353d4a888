/**
 * A site's detector and its DICOM pixel encoding: the ideal density image is blurred (focal
 * spot and detector MTF), passed through the detector's response (gamma, contrast, offset),
 * given quantum and electronic noise, quantised to the site's bit depth, and finally stored
 * signed or unsigned, MONOCHROME1 or MONOCHROME2, with a rescale (modality LUT) and a window.
 */
import type { Rng } from '../../core/rng.ts';
import { gaussianBlur } from '../preprocess/blur.ts';

/** How one site's scanner turns density into stored pixel values. */
export interface ScannerProfile {
  /** Detector response: signal = offset + contrast · density^gamma, as a fraction of full scale. */
  gamma: number;
  contrast: number;
  offset: number;
  /** Gaussian blur σ in pixels of a 128-pixel image (scaled with the matrix). */
  blurSigma: number;
  /** Quantum noise σ at full-scale signal and electronic noise σ, as fractions of full scale. */
  quantumNoise: number;
  electronicNoise: number;
  bitsStored: 12 | 16;
  signed: boolean;
  photometric: 'MONOCHROME1' | 'MONOCHROME2';
  rescaleSlope: number;
  rescaleIntercept: number;
}

/** Stored pixel values plus the attributes a reader needs to interpret them. */
export interface StoredImage {
  rows: number;
  columns: number;
  /** The stored pixel values (signed when `pixelRepresentation` is 1). */
  stored: Int32Array;
  bitsAllocated: 16;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  photometric: 'MONOCHROME1' | 'MONOCHROME2';
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter: number;
  windowWidth: number;
}

/** Densities the default window spans: lung field to dense mediastinum. */
const WINDOW_DENSITY: [number, number] = [0.12, 0.75];

/** Detector signal (fraction of full scale) for a density. */
function response(p: ScannerProfile, density: number): number {
  return p.offset + p.contrast * Math.pow(Math.max(0, density), p.gamma);
}

/** The unsigned detector value stored for signal s (before the photometric flip and the sign shift). */
function detectorValue(maxValue: number, s: number): number {
  return Math.min(maxValue, Math.max(0, Math.round(s * maxValue)));
}

/** Stored value → modality value, as a reader applies it (PS3.3 C.11.1). */
function modality(p: ScannerProfile, stored: number): number {
  return stored * p.rescaleSlope + p.rescaleIntercept;
}

/** Stored value a detector value becomes under the profile's photometric and sign conventions. */
function toStored(p: ScannerProfile, maxValue: number, v: number): number {
  const flipped = p.photometric === 'MONOCHROME1' ? maxValue - v : v;
  return p.signed ? flipped - (maxValue + 1) / 2 : flipped;
}

/** Images the density through the scanner. `rng` drives the noise only. */
export function acquire(p: ScannerProfile, density: Float32Array, size: number, rng: Rng): StoredImage {
  const img = Float32Array.from(density);
  gaussianBlur(img, size, (p.blurSigma * size) / 128);
  const maxValue = 2 ** p.bitsStored - 1;
  const stored = new Int32Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const s = response(p, img[i]);
    const noisy = s + rng.normal() * Math.hypot(p.quantumNoise * Math.sqrt(Math.max(s, 0)), p.electronicNoise);
    stored[i] = toStored(p, maxValue, detectorValue(maxValue, noisy));
  }
  const ends = WINDOW_DENSITY.map((d) => modality(p, toStored(p, maxValue, detectorValue(maxValue, response(p, d)))));
  return {
    rows: size,
    columns: size,
    stored,
    bitsAllocated: 16,
    bitsStored: p.bitsStored,
    highBit: p.bitsStored - 1,
    pixelRepresentation: p.signed ? 1 : 0,
    photometric: p.photometric,
    rescaleSlope: p.rescaleSlope,
    rescaleIntercept: p.rescaleIntercept,
    windowCenter: round2((ends[0] + ends[1]) / 2),
    windowWidth: round2(Math.abs(ends[1] - ends[0])),
  };
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** The native little-endian bytes of 16-bit stored values (two's complement when signed). */
export function nativeBytes(img: StoredImage): Uint8Array {
  const out = new Uint8Array(img.stored.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < img.stored.length; i++) {
    if (img.pixelRepresentation === 1) dv.setInt16(i * 2, img.stored[i], true);
    else dv.setUint16(i * 2, img.stored[i], true);
  }
  return out;
}
