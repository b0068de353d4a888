/** Geometry of a nearest-neighbour resize, with tfjs's attribute meanings. */
export interface ResizeGeom {
  batch: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  depth: number;
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/** The source index of each output index along one axis, exactly as tfjs's forward resize picks it. */
export function nearestSources(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const src = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
    let s = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) s = Math.max(0, s);
    src[o] = s;
  }
  return src;
}

/**
 * Gradient of nearest-neighbour resizing (NHWC): every dy pixel is added to the input pixel
 * the forward pass copied it from. Returns dx of [batch, inHeight, inWidth, depth].
 */
export function resizeNearestNeighborGradImpl(dy: Float32Array, g: ResizeGeom): Float32Array {
  const rows = nearestSources(g.inHeight, g.outHeight, g.alignCorners, g.halfPixelCenters);
  const cols = nearestSources(g.inWidth, g.outWidth, g.alignCorners, g.halfPixelCenters);
  const dx = new Float32Array(g.batch * g.inHeight * g.inWidth * g.depth);
  for (let b = 0; b < g.batch; b++) {
    for (let y = 0; y < g.outHeight; y++) {
      const rowBase = (b * g.inHeight + rows[y]) * g.inWidth;
      for (let x = 0; x < g.outWidth; x++) {
        const src = ((b * g.outHeight + y) * g.outWidth + x) * g.depth;
        const dst = (rowBase + cols[x]) * g.depth;
        for (let d = 0; d < g.depth; d++) dx[dst + d] += dy[src + d];
      }
    }
  }
  return dx;
}
