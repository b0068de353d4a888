import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../../core/rng.ts';
import { synthesizeFederation } from '../../data/synth/federation.ts';
import { linearTeacherOnnx } from '../distill/linear-teacher.ts';
import { tempDir } from '../federation/fixtures.ts';

/** Image side of the KdTrainer tests. */
export const KD_SIZE = 32;

/**
 * One synthetic site (data/synth, `images` images at KD_SIZE px, seed `siteSeed`) and a seeded
 * linear ONNX teacher over it (weights drawn from `teacherSeed`), in a fresh temp folder.
 */
export async function kdSite(label: string, images: number, siteSeed: number, teacherSeed: number): Promise<{ site: string; teacher: string }> {
  const dir = tempDir(label);
  const manifest = await synthesizeFederation({ out: path.join(dir, 'fed'), sites: 1, imagesPerSite: images, size: KD_SIZE, seed: siteSeed, largeFactor: 1, testFraction: 0.25 });
  const rng = new Rng(teacherSeed);
  const teacher = path.join(dir, 'teacher.onnx');
  writeFileSync(teacher, linearTeacherOnnx(1, KD_SIZE, Float32Array.from({ length: KD_SIZE * KD_SIZE * 2 }, () => rng.normal() * 0.05), Float32Array.from([0.1, -0.1])));
  return { site: path.join(dir, 'fed', manifest.sites[0].name), teacher };
}
