import * as tf from '@tensorflow/tfjs';
import { predictLogits } from './classification.ts';
import { meanDice } from './metrics.ts';
import type { Batch, ImageSet, Metrics, Task } from './types.ts';

/** Smoothing of the soft Dice loss, so empty masks give a finite loss. */
const DICE_SMOOTH = 1;

/**
 * The segmentation loss: binary cross-entropy on mask logits plus the soft Dice loss
 * 1 − (2Σpg + s)/(Σp + Σg + s) per image, averaged (Milletari et al. 2016, "V-Net",
 * arXiv:1606.04797). `logits` and `masks` are [B, H, W, 1].
 */
export function diceBceLoss(logits: tf.Tensor4D, masks: tf.Tensor4D, diceWeight = 1, bceWeight = 1): tf.Scalar {
  return tf.tidy(() => {
    // stable BCE with logits: max(z, 0) − z·y + log(1 + e^−|z|)
    const bce = tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, masks)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
    const p = tf.sigmoid(logits);
    const inter = tf.sum(tf.mul(p, masks), [1, 2, 3]);
    const denom = tf.add(tf.sum(p, [1, 2, 3]), tf.sum(masks, [1, 2, 3]));
    const diceLoss = tf.mean(tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), DICE_SMOOTH), tf.add(denom, DICE_SMOOTH))));
    return tf.add(tf.mul(bce, bceWeight), tf.mul(diceLoss, diceWeight)) as tf.Scalar;
  });
}

/** Segmentation with a one-channel mask-logit model: Dice + BCE loss, mean per-image Dice at p > 0.5 for validation. */
export function segmentationTask(opts: { diceWeight?: number; bceWeight?: number } = {}): Task {
  return {
    name: 'segmentation',
    batchLoss(model: tf.LayersModel, batch: Batch, training: boolean): tf.Scalar {
      if (!batch.masks) throw new Error('segmentation needs masks in the dataset');
      const masks = batch.masks;
      return tf.tidy(() => diceBceLoss(model.apply(batch.x, { training }) as tf.Tensor4D, masks, opts.diceWeight, opts.bceWeight));
    },
    evaluate(model: tf.LayersModel, set: ImageSet, batchSize: number): Metrics {
      if (!set.masks) throw new Error('segmentation needs masks in the dataset');
      const logits = predictLogits(model, set, batchSize);
      const px = set.size * set.size;
      let loss = 0;
      for (let i = 0; i < logits.length; i++) {
        const z = logits[i];
        const y = set.masks[i] !== 0 ? 1 : 0;
        loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
      }
      // logit > 0 ⇔ sigmoid > 0.5
      return { loss: loss / Math.max(1, logits.length), n: set.n, dice: meanDice(logits, set.masks, px, 0) };
    },
    score: (m: Metrics) => m.dice ?? -m.loss,
  };
}
