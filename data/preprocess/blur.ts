/** Separable Gaussian blur of one size·size channel with clamped edges, in place; σ in pixels (≤ 0.05: none). */
export function gaussianBlur(img: Float32Array, size: number, sigma: number): void {
  if (sigma <= 0.05) return;
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const tmp = new Float32Array(img.length);
  const clamp = (v: number): number => (v < 0 ? 0 : v >= size ? size - 1 : v);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * img[r * size + clamp(c + k)];
      tmp[r * size + c] = acc;
    }
  }
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * tmp[clamp(r + k) * size + c];
      img[r * size + c] = acc;
    }
  }
}
