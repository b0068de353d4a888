import * as tf from '@tensorflow/tfjs';
import { weightCuts, type WeightCut } from './apply-masks.ts';
import { analyzeChannels, type ChannelGraph } from './graph.ts';
import { producerSpec } from './layer-kinds.ts';
import type { PruneMasks } from './masks.ts';

interface LayerJson {
  class_name: string;
  config: Record<string, unknown>;
}

/** The model's topology JSON with every masked producer's channel count reduced to its kept count. */
function shrunkTopology(model: tf.LayersModel, masks: PruneMasks): tf.io.ModelJSON['modelTopology'] {
  const topo = model.toJSON(null, false) as unknown as { config: { layers: LayerJson[] } };
  for (const l of topo.config.layers) {
    const keep = masks[l.config.name as string];
    if (!keep) continue;
    const key = producerSpec(model.getLayer(l.config.name as string)).sizeKey;
    l.config[key] = keep.filter(Boolean).length;
  }
  return topo as unknown as tf.io.ModelJSON['modelTopology'];
}

/** A weight's value with only the kept indices along each cut axis. */
function sliceWeight(value: tf.Tensor, axes: WeightCut['axes']): tf.Tensor {
  return tf.tidy(() => {
    let t = value;
    for (const { axis, keep } of axes) {
      const idx = keep.flatMap((k, i) => (k ? [i] : []));
      t = tf.gather(t, tf.tensor1d(idx, 'int32'), axis);
    }
    return t === value ? tf.clone(t) : t;
  });
}

/**
 * Physical surgery: builds a new, smaller LayersModel without the masked channels and copies
 * the surviving weights (conv and dense kernels sliced on both channel axes, biases, BN γ/β and
 * moving statistics, depthwise filters, dense rows after a flatten). Its outputs equal those of
 * the model with `applyMasks(model, masks)` applied. The original model is left unchanged.
 */
export async function shrinkModel(model: tf.LayersModel, masks: PruneMasks, graph: ChannelGraph = analyzeChannels(model)): Promise<tf.LayersModel> {
  const cuts = weightCuts(model, graph, masks);
  const cutOf = new Map(cuts.map((c) => [`${c.layer}#${c.index}`, c]));
  const small = await tf.models.modelFromJSON({ modelTopology: shrunkTopology(model, masks) });
  for (const layer of small.layers) {
    if (!layer.weights.length) continue;
    const old = model.getLayer(layer.name);
    const values = old.weights.map((w, i) => sliceWeight(w.read(), cutOf.get(`${layer.name}#${i}`)?.axes ?? []));
    layer.setWeights(values);
    tf.dispose(values);
  }
  return small;
}
