import { withActivation } from './activations.ts';
import { type BnFold, type ConvertContext, type LayerConverter, pair, requireWeight, unsupported, weightOf } from './context.ts';
import type { LayerNode } from './keras-graph.ts';
import { transpose, transposePads, windowPads } from './layout.ts';

/**
 * A BatchNormalization layer as a per-channel affine map (Ioffe & Szegedy 2015,
 * arXiv:1502.03167): scale = γ/√(σ² + ε), shift = β − μ·scale, in float64.
 */
export function bnAffine(node: LayerNode): BnFold {
  const mean = requireWeight(node, 'moving_mean').data;
  const variance = requireWeight(node, 'moving_variance').data;
  const gamma = weightOf(node, 'gamma')?.data;
  const beta = weightOf(node, 'beta')?.data;
  const eps = node.config.epsilon as number;
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** Multiplies `w` (ONNX layout `shape`) by `scale` along output-channel `axis`, in place. */
function scaleAxis(w: Float32Array, shape: number[], axis: number, scale: Float64Array): void {
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  for (let i = 0; i < w.length; i++) w[i] *= scale[Math.floor(i / inner) % n];
}

/**
 * Adds the weight and bias initializers of a layer, BN folded in when ctx.fold is set:
 * W·scale along the output axis, b·scale + shift. Returns the ONNX input names [W, B?].
 */
function weightInputs(ctx: ConvertContext, w: Float32Array, shape: number[], outAxis: number, bias: Float32Array | undefined): string[] {
  const { g, node, fold } = ctx;
  let b: Float32Array | undefined = bias ? Float32Array.from(bias) : undefined;
  if (fold) {
    scaleAxis(w, shape, outAxis, fold.scale);
    b = Float32Array.from(fold.shift, (s, c) => (bias ? bias[c] : 0) * fold.scale[c] + s);
  }
  const names = [g.constant(`${node.name}/W`, shape, w)];
  if (b) names.push(g.constant(`${node.name}/B`, [b.length], b));
  return names;
}

function checkChannelsLast(node: LayerNode): void {
  if (node.config.dataFormat !== undefined && node.config.dataFormat !== 'channelsLast') throw unsupported(node, `data format ${node.config.dataFormat} is not supported`);
}

function convAttrs(node: LayerNode, kernel: number[], group: number) {
  const strides = pair(node.config.strides);
  const dilations = pair(node.config.dilationRate ?? 1);
  const pads = windowPads(node.config.padding as string, node.inShapes[0], kernel, strides, dilations);
  return { kernel_shape: kernel, strides, dilations, pads, group };
}

/** Conv2D → Conv; kernel [kh,kw,in,out] → W [out,in,kh,kw]. */
const conv2d: LayerConverter = (ctx) => {
  const { node } = ctx;
  checkChannelsLast(node);
  const k = requireWeight(node, 'kernel');
  const [kh, kw, ci, co] = k.shape;
  const inputs = weightInputs(ctx, transpose(k.data, k.shape, [3, 2, 0, 1]), [co, ci, kh, kw], 0, weightOf(node, 'bias')?.data);
  return withActivation(ctx, (out) => ctx.g.node('Conv', [ctx.inputs[0], ...inputs], out, convAttrs(node, [kh, kw], 1), node.name));
};

/** DepthwiseConv2D → grouped Conv (group = in channels); kernel [kh,kw,in,m] → W [in·m,1,kh,kw]. */
const depthwiseConv2d: LayerConverter = (ctx) => {
  const { node } = ctx;
  checkChannelsLast(node);
  const k = requireWeight(node, 'depthwise_kernel');
  const [kh, kw, ci, m] = k.shape;
  const inputs = weightInputs(ctx, transpose(k.data, k.shape, [2, 3, 0, 1]), [ci * m, 1, kh, kw], 0, weightOf(node, 'bias')?.data);
  return withActivation(ctx, (out) => ctx.g.node('Conv', [ctx.inputs[0], ...inputs], out, convAttrs(node, [kh, kw], ci), node.name));
};

/** SeparableConv2D → grouped Conv (depthwise) then 1×1 Conv (pointwise, with the bias and any folded BN). */
const separableConv2d: LayerConverter = (ctx) => {
  const { node, g } = ctx;
  checkChannelsLast(node);
  const dk = requireWeight(node, 'depthwise_kernel');
  const pk = requireWeight(node, 'pointwise_kernel');
  const [kh, kw, ci, m] = dk.shape;
  const co = pk.shape[3];
  const dwW = g.constant(`${node.name}/depthwise_W`, [ci * m, 1, kh, kw], transpose(dk.data, dk.shape, [2, 3, 0, 1]));
  const dw = g.temp('Conv', [ctx.inputs[0], dwW], `${node.name}/depthwise`, convAttrs(node, [kh, kw], ci));
  const inputs = weightInputs(ctx, transpose(pk.data, pk.shape, [3, 2, 0, 1]), [co, ci * m, 1, 1], 0, weightOf(node, 'bias')?.data);
  return withActivation(ctx, (out) => g.node('Conv', [dw, ...inputs], out, { kernel_shape: [1, 1] }, node.name));
};

/** Conv2DTranspose → ConvTranspose; kernel [kh,kw,out,in] → W [in,out,kh,kw]; pads reproduce tfjs's output size. */
const conv2dTranspose: LayerConverter = (ctx) => {
  const { node } = ctx;
  checkChannelsLast(node);
  if (pair(node.config.dilationRate ?? 1).some((d) => d !== 1)) throw unsupported(node, 'dilated transposed convolution is not supported');
  const k = requireWeight(node, 'kernel');
  const [kh, kw, co, ci] = k.shape;
  const strides = pair(node.config.strides);
  const { pads, outputPadding } = transposePads(node.inShapes[0], node.outShape, [kh, kw], strides);
  const inputs = weightInputs(ctx, transpose(k.data, k.shape, [3, 2, 0, 1]), [ci, co, kh, kw], 1, weightOf(node, 'bias')?.data);
  const attrs = { kernel_shape: [kh, kw], strides, pads, output_padding: outputPadding };
  return withActivation(ctx, (out) => ctx.g.node('ConvTranspose', [ctx.inputs[0], ...inputs], out, attrs, node.name));
};

/** Dense on a [N, features] tensor → Gemm with B = kernel [in, out]. */
const dense: LayerConverter = (ctx) => {
  const { node } = ctx;
  if (node.inShapes[0].length !== 1) throw unsupported(node, `dense on a rank-${node.inShapes[0].length + 1} tensor is not supported (add a Flatten or global pooling first)`);
  const k = requireWeight(node, 'kernel');
  const inputs = weightInputs(ctx, Float32Array.from(k.data), k.shape, 1, weightOf(node, 'bias')?.data);
  return withActivation(ctx, (out) => ctx.g.node('Gemm', [ctx.inputs[0], ...inputs], out, {}, node.name));
};

/** A BatchNormalization not folded into a layer before it → Mul and Add with per-channel constants. */
const batchNormalization: LayerConverter = (ctx) => {
  const { node, g } = ctx;
  const rank = node.outShape.length + 1;
  const axis = node.config.axis as number;
  if (axis !== -1 && axis !== rank - 1) throw unsupported(node, `normalising axis ${axis} is not supported (only the channel axis)`);
  const { scale, shift } = bnAffine(node);
  const dims = rank === 4 ? [scale.length, 1, 1] : [scale.length];
  const scaled = g.temp('Mul', [ctx.inputs[0], g.constant(`${node.name}/scale`, dims, Float32Array.from(scale))], `${node.name}/scaled`);
  return g.node('Add', [scaled, g.constant(`${node.name}/shift`, dims, Float32Array.from(shift))], ctx.output, {}, node.name);
};

/** Layers that carry weights, and whether a following BN may be folded into them. */
export const WEIGHTED_CONVERTERS: Record<string, LayerConverter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Conv2DTranspose: conv2dTranspose,
  Dense: dense,
  BatchNormalization: batchNormalization,
};

/** Classes a following BatchNormalization folds into (when their activation is linear). */
export const FOLDS_BN = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose', 'Dense']);
