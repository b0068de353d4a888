import { z } from 'zod';
import { UserError } from '../../core/errors.ts';

/**
 * Named VOI windows (centre/width in Hounsfield units, after the modality LUT) as chest
 * imaging uses them (e.g. Radiopaedia's "windowing (CT)": lung −600/1500, mediastinum 50/350,
 * bone 400/1800).
 */
export const WINDOW_PRESETS = {
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 50, width: 350 },
  bone: { center: 400, width: 1800 },
} as const;

/** How images become model tensors. Every field has a default but `size`. */
export const PreprocessSchema = z.object({
  /** Model input height = width, in pixels. */
  size: z.number().int().min(4).max(4096),
  /** Output channels: 1 (grey; colour becomes luma) or 3 (RGB; grey is repeated). */
  channels: z.union([z.literal(1), z.literal(3)]).default(1),
  /**
   * VOI window: `file` (the file's first Window Center/Width; else a raster's full bit range;
   * else `auto`), a preset, `auto` (the `percentiles` of the image's values), or `minmax`.
   */
  window: z.enum(['file', 'auto', 'minmax', 'lung', 'mediastinum', 'bone']).default('file'),
  /** Low and high percentiles for `auto`. */
  percentiles: z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]).default([1, 99]),
  /** `unit`: windowed values in [0, 1]; `zscore`: zero mean, unit variance over the image (padding = 0). */
  normalize: z.enum(['unit', 'zscore']).default('unit'),
  /**
   * `ignore`: keep the pixel grid's aspect ratio; `aspect`: keep the physical aspect ratio
   * (Pixel Spacing); a number: that many mm per output pixel, centred, cropped or padded.
   */
  spacing: z.union([z.enum(['ignore', 'aspect']), z.number().positive()]).default('ignore'),
  /** Which frame of a multi-frame image to use. */
  frame: z.number().int().min(0).default(0),
});

/** A complete preprocessing configuration (defaults filled in). */
export type PreprocessConfig = z.infer<typeof PreprocessSchema>;

/** What callers may pass: `size` and any fields to override. */
export type PreprocessInput = z.input<typeof PreprocessSchema>;

/** Validates a preprocessing config, filling defaults; a bad field is a UserError naming it. */
export function parsePreprocess(input: unknown): PreprocessConfig {
  const r = PreprocessSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UserError(`preprocess config: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  if (r.data.percentiles[0] >= r.data.percentiles[1]) throw new UserError('preprocess config: percentiles: low must be below high');
  return r.data;
}
