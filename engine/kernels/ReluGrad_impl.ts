/** ReLU's gradient, dx = dy where x > 0 and 0 elsewhere (tfjs: dy · step(x)), in one pass. */
export function reluGradImpl(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}
