import * as tf from '@tensorflow/tfjs';
import { LayerFactory, modelInput, type ModelOptions } from './factory.ts';

/** The depthwise-separable blocks of mobile-s: (output channels, stride). */
export const MOBILE_S_BLOCKS: readonly (readonly [number, number])[] = [
  [32, 2],
  [64, 2],
  [64, 1],
  [128, 2],
  [128, 1],
];

/**
 * `mobile-s`, the reference student: a MobileNet-style network (Howard et al. 2017,
 * "MobileNets", arXiv:1704.04861). Stem conv 3×3 stride 2 → 16, BN, ReLU; five
 * depthwise-separable blocks (depthwise 3×3 stride s, BN, ReLU, pointwise 1×1 → c, BN, ReLU);
 * global average pool; dense logits. Convolutions feeding BN carry no bias, so at 1 input
 * channel and 2 classes it has 35,842 trainable parameters (plus 1,472 BN moving statistics).
 * Layers: `stem/conv`, `stem/bn`, `stem/relu`, `blockK/dw`, `blockK/dw_bn`, `blockK/dw_relu`,
 * `blockK/pw`, `blockK/pw_bn`, `blockK/pw_relu`, `head/pool`, `head/logits`.
 */
export function buildMobileS(opts: ModelOptions): tf.LayersModel {
  const f = new LayerFactory(opts.seed, opts.widthMultiplier);
  const input = modelInput(opts);
  let x = f.convBnRelu(input, 'stem', f.width(16), 3, 2);
  MOBILE_S_BLOCKS.forEach(([c, s], i) => {
    const b = `block${i + 1}`;
    x = f.relu(f.bn(f.depthwise(x, `${b}/dw`, 3, s), `${b}/dw_bn`), `${b}/dw_relu`);
    x = f.relu(f.bn(f.conv(x, `${b}/pw`, f.width(c), 1), `${b}/pw_bn`), `${b}/pw_relu`);
  });
  const logits = f.dense(f.globalPool(x, 'head/pool'), 'head/logits', opts.numClasses);
  return tf.model({ name: 'mobile-s', inputs: input, outputs: logits });
}
