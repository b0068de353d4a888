import { warn, info } from '../core/log.ts';
import type { GpuInfo } from './probes.ts';

/** Above this fraction of GPU memory used, new requests go to the CPU (issue 8). */
export const GPU_MEMORY_HIGH = 0.85;
/** How often nvidia-smi is asked. */
export const GPU_POLL_MS = 2000;

/**
 * Watches GPU memory by polling (nvidia-smi through an injectable probe). While the busiest
 * GPU's used fraction exceeds `threshold`, `divertToCpu` is true and new requests go to the
 * CPU session; it turns false again once usage falls to the threshold or below.
 */
export class GpuMemoryMonitor {
  divertToCpu = false;
  /** Used fraction at the last poll (0 without a GPU). */
  usedFraction = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly gpus: () => GpuInfo[],
    private readonly threshold = GPU_MEMORY_HIGH,
  ) {}

  /** Polls once and updates `divertToCpu`; returns it. */
  poll(): boolean {
    let gpus: GpuInfo[];
    try {
      gpus = this.gpus();
    } catch {
      gpus = [];
    }
    this.usedFraction = gpus.length ? Math.max(...gpus.map((g) => (g.memoryTotalMB > 0 ? g.memoryUsedMB / g.memoryTotalMB : 0))) : 0;
    const divert = this.usedFraction > this.threshold;
    if (divert !== this.divertToCpu) {
      if (divert) warn(`GPU memory ${(this.usedFraction * 100).toFixed(0)}% used (> ${this.threshold * 100}%): new requests go to the CPU`);
      else info(`GPU memory back to ${(this.usedFraction * 100).toFixed(0)}% used: requests return to the GPU`);
    }
    this.divertToCpu = divert;
    return divert;
  }

  /** Starts polling every `intervalMs` (the timer does not keep the process alive). */
  start(intervalMs = GPU_POLL_MS): void {
    this.stop();
    this.poll();
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  /** Stops polling. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
