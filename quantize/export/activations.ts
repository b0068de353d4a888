import type { ConvertContext } from './context.ts';
import { unsupported } from './context.ts';
import type { OnnxGraph } from './onnx-graph.ts';

/**
 * Emits a Keras activation (by its tfjs name) from `input` to `output`; `rank` is the
 * tensor's rank, for softmax's channel axis. Returns `output` (or `input` for 'linear'
 * when no output was reserved).
 */
export function emitActivation(g: OnnxGraph, activation: string, input: string, output: string, rank: number, ctx: ConvertContext): string {
  switch (activation) {
    case 'linear':
      return g.node('Identity', [input], output);
    case 'relu':
      return g.node('Relu', [input], output);
    case 'relu6':
      return g.node('Clip', [input, g.floats(`${output}/min`, [], [0]), g.floats(`${output}/max`, [], [6])], output);
    case 'sigmoid':
      return g.node('Sigmoid', [input], output);
    case 'tanh':
      return g.node('Tanh', [input], output);
    case 'elu':
      return g.node('Elu', [input], output, { alpha: { float: 1 } });
    case 'softplus':
      return g.node('Softplus', [input], output);
    case 'hardSigmoid':
      return g.node('HardSigmoid', [input], output, { alpha: { float: 0.2 }, beta: { float: 0.5 } });
    case 'swish':
      return g.node('Mul', [input, g.temp('Sigmoid', [input], `${output}/sigmoid`)], output);
    case 'softmax':
      return g.node('Softmax', [input], output, { axis: rank === 4 ? 1 : rank - 1 });
    default:
      throw unsupported(ctx.node, `activation '${activation}' is not supported by ONNX export`);
  }
}

/**
 * A layer's own `activation` setting applied after its main op: `pre` is the op's output
 * name; returns the final name. 'linear' adds nothing when `pre` already is the output.
 */
export function withActivation(ctx: ConvertContext, emit: (out: string) => string): string {
  const act = (ctx.node.config.activation as string | undefined) ?? 'linear';
  if (act === 'linear') return emit(ctx.output);
  const pre = emit(ctx.g.unique(`${ctx.output}/preact`));
  return emitActivation(ctx.g, act, pre, ctx.output, ctx.node.outShape.length + 1, ctx);
}
