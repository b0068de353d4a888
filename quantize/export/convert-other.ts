import { emitActivation } from './activations.ts';
import { type ConvertContext, type LayerConverter, pair, unsupported } from './context.ts';
import type { AttrValue } from './onnx-graph.ts';
import { nchwAxis, windowPads } from './layout.ts';

const rankOf = (ctx: ConvertContext) => ctx.node.outShape.length + 1;

/** Layers that are the identity at inference (dropout, noise): their output is their input. */
const passThrough: LayerConverter = (ctx) => ctx.inputs[0];

/** ReLU layer → Relu, or Clip(0, maxValue) for ReLU6 and friends. */
const relu: LayerConverter = (ctx) => {
  const max = ctx.node.config.maxValue as number | null | undefined;
  if (max === null || max === undefined) return ctx.g.node('Relu', [ctx.inputs[0]], ctx.output);
  const { g, output } = ctx;
  return g.node('Clip', [ctx.inputs[0], g.floats(`${output}/min`, [], [0]), g.floats(`${output}/max`, [], [max])], output);
};

const leakyRelu: LayerConverter = (ctx) => ctx.g.node('LeakyRelu', [ctx.inputs[0]], ctx.output, { alpha: { float: ctx.node.config.alpha as number } });
const elu: LayerConverter = (ctx) => ctx.g.node('Elu', [ctx.inputs[0]], ctx.output, { alpha: { float: ctx.node.config.alpha as number } });
const softmax: LayerConverter = (ctx) => {
  const axis = ctx.node.config.axis as number | number[];
  if (Array.isArray(axis) && axis.length !== 1) throw unsupported(ctx.node, 'softmax over several axes is not supported');
  return ctx.g.node('Softmax', [ctx.inputs[0]], ctx.output, { axis: nchwAxis(Array.isArray(axis) ? axis[0] : axis, rankOf(ctx)) });
};
const activation: LayerConverter = (ctx) => emitActivation(ctx.g, ctx.node.config.activation as string, ctx.inputs[0], ctx.output, rankOf(ctx), ctx);

/** MaxPooling2D / AveragePooling2D → MaxPool / AveragePool (padding excluded from averages, as in TensorFlow). */
function pool(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (ctx) => {
    const { node } = ctx;
    if (node.config.dataFormat !== undefined && node.config.dataFormat !== 'channelsLast') throw unsupported(node, 'channels-first pooling is not supported');
    const kernel = pair(node.config.poolSize);
    const strides = pair(node.config.strides ?? node.config.poolSize);
    const pads = windowPads(node.config.padding as string, node.inShapes[0], kernel, strides);
    return ctx.g.node(op, [ctx.inputs[0]], ctx.output, { kernel_shape: kernel, strides, pads }, node.name);
  };
}

/** GlobalAveragePooling2D / GlobalMaxPooling2D → the global pool, then Flatten to [N, C]. */
function globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (ctx) => {
    const pooled = ctx.g.temp(op, [ctx.inputs[0]], `${ctx.node.name}/pooled`);
    if (ctx.node.outShape.length === 3) return ctx.g.node('Identity', [pooled], ctx.output);
    return ctx.g.node('Flatten', [pooled], ctx.output, { axis: 1 }, ctx.node.name);
  };
}

/** Flatten of an image → transpose back to NHWC first, so features come in tfjs's order. */
const flatten: LayerConverter = (ctx) => {
  const inShape = ctx.node.inShapes[0];
  let x = ctx.inputs[0];
  if (inShape.length === 3 && inShape[0] * inShape[1] > 1) x = ctx.g.temp('Transpose', [x], `${ctx.node.name}/nhwc`, { perm: [0, 2, 3, 1] });
  else if (inShape.length !== 3 && inShape.length !== 1) throw unsupported(ctx.node, `flatten of a rank-${inShape.length + 1} tensor is not supported`);
  return ctx.g.node('Flatten', [x], ctx.output, { axis: 1 }, ctx.node.name);
};

/** Element-wise merges: variadic ONNX ops, or a chain of binary ones. */
function merge(op: string, variadic: boolean): LayerConverter {
  return (ctx) => {
    if (variadic || ctx.inputs.length === 2) return ctx.g.node(op, ctx.inputs, ctx.output, {}, ctx.node.name);
    let acc = ctx.inputs[0];
    for (let i = 1; i < ctx.inputs.length; i++) {
      acc = i === ctx.inputs.length - 1 ? ctx.g.node(op, [acc, ctx.inputs[i]], ctx.output) : ctx.g.temp(op, [acc, ctx.inputs[i]], `${ctx.node.name}/partial`);
    }
    return acc;
  };
}

/** Concatenate → Concat on the matching NCHW axis. */
const concatenate: LayerConverter = (ctx) => ctx.g.node('Concat', ctx.inputs, ctx.output, { axis: nchwAxis(ctx.node.config.axis as number, rankOf(ctx)) }, ctx.node.name);

/**
 * UpSampling2D → Resize by integer scales: nearest (floor of asymmetric coordinates, which
 * repeats pixels as tfjs does) or bilinear (asymmetric, tfjs's alignCorners=false).
 */
const upSampling2d: LayerConverter = (ctx) => {
  const { g, node } = ctx;
  const [sh, sw] = pair(node.config.size);
  const interpolation = (node.config.interpolation as string | undefined) ?? 'nearest';
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') throw unsupported(node, `interpolation '${interpolation}' is not supported`);
  const scales = g.floats(`${node.name}/scales`, [4], [1, 1, sh, sw]);
  const attrs: Record<string, AttrValue> =
    interpolation === 'nearest'
      ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
      : { mode: 'linear', coordinate_transformation_mode: 'asymmetric' };
  return g.node('Resize', [ctx.inputs[0], '', scales], ctx.output, attrs, node.name);
};

/**
 * ZeroPadding2D → Pad with zeros on H and W. Before a MaxPool the pad value is −0.0 (equal
 * to 0): ONNX Runtime's PadFusion would otherwise merge the Pad into the MaxPool, whose pads
 * act as −∞ (wrong for negative inputs) and must be smaller than the kernel; it only fuses a
 * pad value whose bytes are all zero.
 */
const zeroPadding2d: LayerConverter = (ctx) => {
  const [[top, bottom], [left, right]] = ctx.node.config.padding as number[][];
  const pads = ctx.g.int64s(`${ctx.node.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
  const inputs = [ctx.inputs[0], pads];
  if (ctx.readers.includes('MaxPooling2D')) inputs.push(ctx.g.floats(`${ctx.node.name}/value`, [], [-0]));
  return ctx.g.node('Pad', inputs, ctx.output, { mode: 'constant' }, ctx.node.name);
};

/** Converters of the layers without weights. */
export const OTHER_CONVERTERS: Record<string, LayerConverter> = {
  Dropout: passThrough,
  SpatialDropout1D: passThrough,
  SpatialDropout2D: passThrough,
  GaussianNoise: passThrough,
  GaussianDropout: passThrough,
  AlphaDropout: passThrough,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  Softmax: softmax,
  Activation: activation,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  Flatten: flatten,
  Add: merge('Add', false),
  Subtract: merge('Sub', false),
  Multiply: merge('Mul', false),
  Average: merge('Mean', true),
  Maximum: merge('Max', true),
  Minimum: merge('Min', true),
  Concatenate: concatenate,
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
};
