/**
 * The [outSize, inSize] matrix of 1-D bilinear resampling with half-pixel centres (PyTorch
 * `align_corners=False`, TF `half_pixel_centers=True`) of the window [start, start + length) of an axis of
 * `inSize` pixels to `outSize` pixels: row o has weight (1−λ) at i0 and λ at i1 where
 * src = max((o + ½)·length/outSize − ½, 0), i0 = ⌊src⌋, i1 = min(i0 + 1, length − 1), λ = src − i0.
 * Resizing an image is then `Ry · X · Rxᵀ`; written as matrix products it is differentiable everywhere
 * (tfjs's ResizeBilinearGrad kernel ignores `halfPixelCenters`, so its gradient is wrong for this mode).
 */
export function bilinearMatrix(inSize: number, outSize: number, start = 0, length = inSize): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = length / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), length - 1);
    const i1 = Math.min(i0 + 1, length - 1);
    const lambda = Math.min(src - i0, 1);
    m[o * inSize + start + i0] = (m[o * inSize + start + i0] as number) + (1 - lambda);
    m[o * inSize + start + i1] = (m[o * inSize + start + i1] as number) + lambda;
  }
  return m;
}
