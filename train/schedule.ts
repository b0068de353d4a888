/** How the learning rate changes over a run. */
export interface LrSchedule {
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  /** 'cosine' anneals from lr to minLr after warm-up; 'constant' stays at lr. */
  kind: 'cosine' | 'constant';
  /** Steps of linear warm-up from lr/warmupSteps to lr (0 = none). */
  warmupSteps: number;
  /** Floor of the cosine (default 0). */
  minLr?: number;
}

/**
 * The learning rate at optimiser step `step` (0-based) of `totalSteps`: linear warm-up
 * (Goyal et al. 2017, arXiv:1706.02677) then cosine annealing without restarts
 * (Loshchilov & Hutter 2017, "SGDR", arXiv:1608.03983):
 * lr_min + ½(lr − lr_min)(1 + cos(π·t/T)), t counted from the end of warm-up.
 */
export function learningRateAt(s: LrSchedule, step: number, totalSteps: number): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (s.kind === 'constant') return s.lr;
  const minLr = s.minLr ?? 0;
  const span = Math.max(1, totalSteps - s.warmupSteps);
  const t = Math.min(span, step - s.warmupSteps);
  return minLr + 0.5 * (s.lr - minLr) * (1 + Math.cos((Math.PI * t) / span));
}
