import * as tf from '@tensorflow/tfjs';
import { LayerFactory, modelInput, type ModelOptions } from './factory.ts';

/** teacher-l stages: (channels, stride of the first block, residual blocks). */
const STAGES: readonly (readonly [number, number, number])[] = [
  [32, 1, 2],
  [64, 2, 1],
  [128, 2, 1],
  [256, 2, 1],
];
/** Dropout before the logits (dropped by ONNX export). */
const HEAD_DROPOUT = 0.2;

/**
 * A basic residual block (He et al. 2016, "Deep Residual Learning", arXiv:1512.03385):
 * conv3×3-BN-ReLU, conv3×3-BN, plus the shortcut (identity, or conv1×1-BN when the shape
 * changes), then ReLU. Layers: `P/conv1`, `P/bn1`, `P/relu1`, `P/conv2`, `P/bn2`,
 * `P/proj`, `P/proj_bn`, `P/add`, `P/relu`.
 */
function residualBlock(f: LayerFactory, x: tf.SymbolicTensor, p: string, channels: number, strides: number): tf.SymbolicTensor {
  const inChannels = x.shape[3];
  let y = f.relu(f.bn(f.conv(x, `${p}/conv1`, channels, 3, strides), `${p}/bn1`), `${p}/relu1`);
  y = f.bn(f.conv(y, `${p}/conv2`, channels, 3), `${p}/bn2`);
  const shortcut = strides !== 1 || inChannels !== channels ? f.bn(f.conv(x, `${p}/proj`, channels, 1, strides), `${p}/proj_bn`) : x;
  const sum = tf.layers.add({ name: `${p}/add` }).apply([y, shortcut]) as tf.SymbolicTensor;
  return f.relu(sum, `${p}/relu`);
}

/**
 * `teacher-l`: a ResNet-style teacher at a quarter of ResNet-18's width — stem conv 3×3
 * stride 2 → 32, four stages of residual blocks (32 ×2, 64, 128, 256 channels; the
 * first stage's blocks have identity shortcuts, the others 1×1 projections), global average
 * pool, dropout, dense logits: 1.24M parameters, about 35× mobile-s. Blocks are named
 * `stageS/blockB`.
 */
export function buildTeacherL(opts: ModelOptions): tf.LayersModel {
  const f = new LayerFactory(opts.seed, opts.widthMultiplier);
  const input = modelInput(opts);
  let x = f.convBnRelu(input, 'stem', f.width(32), 3, 2);
  STAGES.forEach(([c, s, blocks], i) => {
    for (let b = 0; b < blocks; b++) {
      x = residualBlock(f, x, `stage${i + 1}/block${b + 1}`, f.width(c), b === 0 ? s : 1);
    }
  });
  let h = f.globalPool(x, 'head/pool');
  h = tf.layers.dropout({ name: 'head/dropout', rate: HEAD_DROPOUT, seed: opts.seed }).apply(h) as tf.SymbolicTensor;
  const logits = f.dense(h, 'head/logits', opts.numClasses);
  return tf.model({ name: 'teacher-l', inputs: input, outputs: logits });
}
