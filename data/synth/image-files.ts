/**
 * The files of one synthetic image: its DICOM file and its mask PNG (0 or 255, written with
 * sharp). The main thread (small federations) and the synth workers (data/synth/synth-worker.ts)
 * both write through `writeImageFiles`, so the two paths give the same bytes.
 *
 * sharp is imported here, and so loaded by the main thread before any worker starts: on
 * glibc Linux, sharp must be loaded by the main thread first so that libvips stays in memory
 * until every worker thread has ended (sharp's documentation, "Worker threads").
 */
import sharp from 'sharp';
import { writeFileAtomic } from '../../core/files.ts';
import { siteMatrix, synthesizeImage } from './image.ts';
import type { SiteProfile } from './sites.ts';

/** One image to synthesise and write; a plain object, so it can be posted to a worker. */
export interface ImageJob {
  seed: number;
  /** Nominal matrix size (the site acquires at `siteMatrix(size, site)`). */
  size: number;
  site: SiteProfile;
  index: number;
  positive: boolean;
  /** Path of the DICOM file. */
  dicomFile: string;
  /** Path of the mask PNG. */
  maskFile: string;
}

/** The mask as a 1-channel PNG: 255 inside the nodule, 0 elsewhere. */
export async function maskPng(mask: Uint8Array, size: number): Promise<Buffer> {
  const grey = Buffer.from(mask.map((v) => (v ? 255 : 0)));
  return sharp(grey, { raw: { width: size, height: size, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 9 }).toBuffer();
}

/** Synthesises one image (synthesizeImage is deterministic per image) and writes its two files. */
export async function writeImageFiles(job: ImageJob): Promise<void> {
  const img = synthesizeImage(job.seed, job.site, job.index, job.positive, job.size);
  await writeFileAtomic(job.dicomFile, img.dicom);
  await writeFileAtomic(job.maskFile, await maskPng(img.mask, siteMatrix(job.size, job.site)));
}

/** The error `synthesizeFederation` rejects with when an image cannot be written. */
export function imageWriteError(job: ImageJob, cause: unknown): Error {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new Error(`synth: could not write ${job.dicomFile}: ${why}`, { cause });
}
