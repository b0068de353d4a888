import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import { buildCnnS } from './cnn-s.ts';
import { DEFAULT_MODEL_OPTIONS, type ModelOptions } from './factory.ts';
import { buildMobileS } from './mobile-s.ts';
import { buildTeacherL } from './teacher-l.ts';
import { buildUnetS } from './unet-s.ts';

export { DEFAULT_MODEL_OPTIONS, type ModelOptions } from './factory.ts';
export { getNamedWeights, setNamedWeights } from './weights.ts';
export { saveModel, loadModel } from './io.ts';
export { countParams, countMacs, macsByLayer, type ParamCount, type LayerMacs } from './stats.ts';

/** The reference architectures, by name. */
export const ARCHS = ['mobile-s', 'cnn-s', 'teacher-l', 'unet-s'] as const;
/** A reference architecture's name. */
export type Arch = (typeof ARCHS)[number];

/** What each architecture is for, for `fedkd models` and help texts. */
export const ARCH_DESCRIPTIONS: Record<Arch, string> = {
  'mobile-s': 'reference student: depthwise-separable convnet, 35,842 parameters at 1 channel / 2 classes',
  'cnn-s': 'plain 3x3-conv student with ReLU6, INT8-friendly',
  'teacher-l': 'residual convnet teacher (five basic blocks, 32-256 channels), about 35x mobile-s',
  'unet-s': 'small U-Net: one channel of mask logits at the input resolution',
};

const BUILDERS: Record<Arch, (o: ModelOptions) => tf.LayersModel> = {
  'mobile-s': buildMobileS,
  'cnn-s': buildCnnS,
  'teacher-l': buildTeacherL,
  'unet-s': buildUnetS,
};

/** Parses an architecture name; an unknown one is a UserError naming the choices. */
export function parseArch(name: string): Arch {
  if (!(ARCHS as readonly string[]).includes(name)) throw new UserError(`unknown architecture '${name}': choose one of ${ARCHS.join(', ')}`);
  return name as Arch;
}

function checkOptions(o: ModelOptions): void {
  const positiveInt = (v: number, what: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new UserError(`${what} must be a positive integer, got ${v}`);
  };
  positiveInt(o.inputSize, 'input size');
  positiveInt(o.inputChannels, 'input channels');
  positiveInt(o.numClasses, 'number of classes');
  if (o.inputSize < 8) throw new UserError(`input size must be at least 8, got ${o.inputSize}`);
  if (!(o.widthMultiplier > 0 && o.widthMultiplier <= 8)) throw new UserError(`width multiplier must be in (0, 8], got ${o.widthMultiplier}`);
  if (!Number.isInteger(o.seed)) throw new UserError(`seed must be an integer, got ${o.seed}`);
}

/**
 * Builds a reference architecture as a tfjs LayersModel with NHWC input `input`
 * [N, size, size, channels] and seeded initial weights (same seed, same weights).
 * Classifiers return [N, numClasses] logits; `unet-s` returns [N, size, size, 1] mask logits.
 * Call `initBackend()` (engine/backend.ts) first. Unknown arch or bad options → UserError.
 */
export function buildModel(arch: string, options: Partial<ModelOptions> = {}): tf.LayersModel {
  const a = parseArch(arch);
  const o: ModelOptions = { ...DEFAULT_MODEL_OPTIONS, ...options };
  checkOptions(o);
  return BUILDERS[a](o);
}
