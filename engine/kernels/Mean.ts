import * as tf from '@tensorflow/tfjs';
import { reduceLeading } from './Sum.ts';
import type { WasmOverride } from './wasm_override.ts';

/** Fast Mean over leading axes for wasm (batch-norm moments, global average pooling). */
export const meanOverride: WasmOverride = { kernelName: tf.Mean, fast: (a) => reduceLeading(a, true) };
