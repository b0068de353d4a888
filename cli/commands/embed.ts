import type { Command } from 'commander';
import { info } from '../../core/log.ts';
import type { PreprocessInput } from '../../data/index.ts';
import { embedDataset, encoderPreprocess } from '../../distill/embeddings.ts';
import { sitePart } from '../../train/site-data.ts';
import { oneOf, positiveInt, printJson } from '../run.ts';

/** Preprocessing flags of the embedding commands; unset ones come from the encoder's sidecar. */
export interface EmbedPreprocessFlags {
  encoder: string;
  size?: number;
  window?: PreprocessInput['window'];
  normalize?: PreprocessInput['normalize'];
}

/** Adds --size, --window and --normalize (defaults: the encoder's `<encoder>.json`, else 64 / file / zscore). */
export function embedPreprocessFlags(cmd: Command): Command {
  return cmd
    .option('--size <px>', 'image size (default: the encoder sidecar, else 64)', positiveInt)
    .option('--window <w>', 'VOI window (default: the encoder sidecar, else file)', oneOf(['file', 'auto', 'minmax', 'lung', 'mediastinum', 'bone'] as const))
    .option('--normalize <n>', 'unit or zscore (default: the encoder sidecar, else zscore)', oneOf(['unit', 'zscore'] as const));
}

/** The preprocessing the encoder expects: flags over its sidecar over the defaults. */
export function embedPreprocess(f: EmbedPreprocessFlags): PreprocessInput {
  const side = encoderPreprocess(f.encoder) ?? { size: 64 };
  return { size: f.size ?? side.size, channels: 1, window: f.window ?? side.window ?? 'file', normalize: f.normalize ?? side.normalize ?? 'zscore' };
}

/** The dataset folders of a site (train/, test/) or the folder itself. */
export function embedParts(dir: string): { part: 'train' | 'test'; dir: string }[] {
  const train = sitePart(dir, 'train');
  const test = sitePart(dir, 'test');
  return [...(train ? [{ part: 'train' as const, dir: train }] : []), ...(test ? [{ part: 'test' as const, dir: test }] : [])];
}

interface EmbedFlags extends EmbedPreprocessFlags {
  data: string;
  refresh?: boolean;
  json?: boolean;
}

/**
 * `fedkd embed --encoder enc.onnx --data DIR`: runs every image of a site (train/ and test/)
 * or dataset folder through the encoder once (ONNX Runtime, progress bar) and caches the maps
 * as float16 in the dataset's `.fedkd-cache/`, keyed by encoder, images and preprocessing.
 */
export function register(program: Command): void {
  const cmd = program
    .command('embed')
    .description('compute and cache (float16) the image embeddings of a site under an ONNX encoder')
    .requiredOption('--encoder <onnx>', 'ONNX encoder: NCHW input → [N, C, h, w] embedding map')
    .requiredOption('--data <dir>', 'a site folder (train/ and test/) or a dataset folder');
  embedPreprocessFlags(cmd)
    .option('--refresh', 'recompute even when cached')
    .option('--json', 'print a one-line JSON summary')
    .action(async (f: EmbedFlags) => {
      const t0 = performance.now();
      const preprocess = embedPreprocess(f);
      const parts = [];
      for (const p of embedParts(f.data)) {
        const e = await embedDataset(f.encoder, p.dir, preprocess, { stream: true, refresh: f.refresh });
        const h = e.store.header;
        parts.push({ part: p.part, dir: p.dir, images: h.n, shape: [h.height, h.width, h.channels], computed: e.computed, decoded: e.decoded, key: h.key });
        info(`embed: ${p.dir}: ${h.n} images, ${h.height}x${h.width}x${h.channels} float16 maps ${e.computed ? 'computed' : 'already cached'}`);
      }
      if (f.json) printJson({ encoder: f.encoder, preprocess, parts, seconds: (performance.now() - t0) / 1000 });
    });
}
