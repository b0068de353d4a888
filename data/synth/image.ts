/**
 * One synthetic radiograph from start to finish: a patient and maybe a nodule are drawn
 * from the image's own seeded stream, rendered at the site's matrix, acquired by the site's
 * scanner and serialised to a DICOM file in the site's transfer syntax.
 */
import { Rng } from '../../core/rng.ts';
import { sampleAnatomy } from './anatomy.ts';
import { TransferSyntax, writeDicomFile, type PixelData } from './dicom-writer.ts';
import { imageElements } from './headers.ts';
import { type Nodule, sampleNodule } from './nodule.ts';
import { renderPhantom } from './phantom.ts';
import { rleEncodeFrame } from './rle.ts';
import { acquire, nativeBytes, type StoredImage } from './scanner.ts';
import type { SiteProfile } from './sites.ts';

/** Field of view of every synthetic radiograph, in millimetres. */
export const FIELD_OF_VIEW_MM = 400;

/** One synthesised image: the DICOM file, its stored pixels and the nodule mask (1 = nodule). */
export interface SynthImage {
  dicom: Uint8Array;
  image: StoredImage;
  mask: Uint8Array;
  nodule: Nodule | null;
}

/** The matrix (rows = columns) a site acquires at for a nominal `size`: even, at least 16. */
export function siteMatrix(size: number, site: SiteProfile): number {
  return Math.max(16, 2 * Math.round((size * site.resolution) / 2));
}

/** The seeded stream of image `index` at `site`: independent of every other image, so order does not matter. */
export function imageRng(seed: number, site: string, index: number): Rng {
  return new Rng(seed).fork(`${site}/image/${index}`);
}

function studyDate(rng: Rng): string {
  const d = new Date(Date.UTC(2023, 0, 1) + rng.int(730) * 86_400_000);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

function studyTime(rng: Rng): string {
  const s = 7 * 3600 + rng.int(12 * 3600);
  return [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60].map((v) => String(v).padStart(2, '0')).join('');
}

/** Synthesises image `index` of `site`, with a nodule when `positive`. */
export function synthesizeImage(seed: number, site: SiteProfile, index: number, positive: boolean, size: number): SynthImage {
  const rng = imageRng(seed, site.name, index);
  const anatomy = sampleAnatomy(rng.fork('anatomy'));
  const nodule = positive ? sampleNodule(rng.fork('nodule'), anatomy) : null;
  const matrix = siteMatrix(size, site);
  const phantom = renderPhantom(anatomy, nodule, matrix);
  const image = acquire(site.scanner, phantom.density, matrix, rng.fork('noise'));
  const meta = rng.fork('patient');
  const identity = {
    seed,
    site,
    index,
    patientSex: meta.next() < 0.5 ? ('F' as const) : ('M' as const),
    patientAge: 25 + meta.int(60),
    studyDate: studyDate(meta),
    studyTime: studyTime(meta),
    fieldOfViewMm: FIELD_OF_VIEW_MM,
  };
  const bytes = nativeBytes(image);
  const pixels: PixelData =
    site.transferSyntax === TransferSyntax.rleLossless ? { kind: 'encapsulated', fragments: [rleEncodeFrame(bytes, matrix, matrix, 2)] } : { kind: 'native', bytes };
  const dicom = writeDicomFile(imageElements(identity, image), pixels, site.transferSyntax);
  return { dicom, image, mask: phantom.mask, nodule };
}
