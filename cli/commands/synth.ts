import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { info } from '../../core/log.ts';
import { progressBar } from '../../core/progress.ts';
import { DEFAULT_IMAGES_PER_SITE, siteCounts, synthesizeFederation, type SynthOptions } from '../../data/synth/federation.ts';
import { numberIn, positiveInt, printJson } from '../run.ts';

/** The flags are the library's options, plus --json. */
type SynthFlags = Omit<SynthOptions, 'onImage'> & { json?: boolean };

function seedInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`expected an integer in [0, 4294967295], got '${v}'`);
  return n;
}

function sizeInt(v: string): number {
  const n = positiveInt(v);
  if (n < 32 || n > 1024) throw new InvalidArgumentError(`expected a size in [32, 1024], got '${v}'`);
  return n;
}

/** `fedkd synth`: writes a synthetic multi-site federation of chest radiographs (DICOM, labels, masks). */
export function register(program: Command): void {
  program
    .command('synth')
    .description('write a synthetic federation: per site, DICOM chest radiographs with nodule labels and masks')
    .requiredOption('--out <dir>', 'output folder (new or empty; or an earlier federation with --force)')
    .option('--sites <n>', 'number of hospitals', positiveInt, 4)
    .option('--images-per-site <m>', 'images at an ordinary site (site-a holds --large-factor times as many)', positiveInt, DEFAULT_IMAGES_PER_SITE)
    .option('--size <px>', 'nominal image matrix; sites acquire at 0.5–1 times it', sizeInt, 128)
    .option('--seed <s>', 'seed: the same seed gives byte-identical output', seedInt, 0)
    .option('--large-factor <f>', 'how many times larger site-a is', numberIn(1, 20), 3)
    .option('--test-fraction <f>', 'held-out fraction per site, stratified by label', numberIn(0.05, 0.9), 0.25)
    .option('--test-images <n>', 'instead of --test-fraction: this many held-out images at every site, on top of its training images (--images-per-site then counts training images only)', positiveInt)
    .option('--workers <n>', 'threads writing images (default: one per core from 400 images; the files are the same either way)', positiveInt)
    .option('--force', 'replace an earlier federation in --out')
    .option('--json', 'print a one-line JSON summary')
    .action(async (flags: SynthFlags) => {
      const total = siteCounts(flags).reduce((a, b) => a + b, 0);
      const bar = progressBar('synth', total);
      const t0 = performance.now();
      const manifest = await synthesizeFederation({ ...flags, onImage: (site) => bar.tick(1, site) });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      for (const s of manifest.sites) {
        const p = s.profile;
        info(
          `${s.name}: ${s.train.images} train (${s.train.positives} with nodule) + ${s.test.images} test (${s.test.positives}), ${s.matrix}px, ` +
            `${p.modality} ${p.scanner.bitsStored}-bit ${p.scanner.signed ? 'signed' : 'unsigned'} ${p.scanner.photometric}, ${p.transferSyntax}`,
        );
      }
      info(`wrote ${total} images to ${flags.out} in ${seconds.toFixed(1)} s`);
      if (flags.json) {
        printJson({ out: flags.out, images: total, seconds: Math.round(seconds * 100) / 100, sites: manifest.sites.map((s) => ({ name: s.name, train: s.train, test: s.test, matrix: s.matrix })) });
      }
    });
}
