import * as tf from '@tensorflow/tfjs';
import { tileImpl, type NumericArray } from './Tile_impl.ts';
import type { WasmKernelArgs, WasmOverride } from './wasm_override.ts';

/**
 * Tile on wasm by block copies. tfjs's batch-norm gradient tiles a [1,1,1,C] tensor to the
 * full activation shape once per BN layer; the stock wasm kernel spent ~30% of a mobile-s
 * training step there.
 */
function tile({ inputs, backend, attrs }: WasmKernelArgs): tf.TensorInfo | null {
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype === 'string' || x.dtype === 'complex64') return null;
  const reps = (attrs as unknown as tf.TileAttrs).reps;
  const out = backend.makeOutput(x.shape.map((s, i) => s * reps[i]), x.dtype);
  tileImpl(backend.typedArrayFromHeap(x) as NumericArray, x.shape, reps, backend.typedArrayFromHeap(out) as NumericArray);
  return out;
}

/** Fast Tile for wasm. */
export const tileOverride: WasmOverride = { kernelName: tf.Tile, fast: tile };
