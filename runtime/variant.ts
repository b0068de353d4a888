import { warn } from '../core/log.ts';
import { UserError } from '../core/errors.ts';
import { decideBatching, type BatchingDecision, type BatchingMode } from './auto-batch.ts';
import { DynamicBatcher, OverloadError, UNBATCHED, type BatcherOptions } from './batcher.ts';
import { VariantMetrics } from './metrics.ts';
import { choosePrecision, type InferencePlan, type Precision } from './plan.ts';
import { taskOf, type ModelTask } from './postprocess.ts';
import type { ModelVersion } from './repository.ts';
import { openSession, type FloatTensor, type ModelSession, type Provider, type SessionOptions } from './session.ts';

/** Opens one model file on one provider; injectable so CUDA paths run in tests without a GPU. */
export type SessionOpener = (file: string, provider: Provider) => Promise<ModelSession>;

/** The real opener with ORT's intra-op spinning on or off and, when given, its intra-op thread count (see SessionOptions). */
export const openerWith =
  (opts: Pick<SessionOptions, 'spinning' | 'threads'>): SessionOpener =>
  (file, provider) =>
    openSession(file, { ...opts, provider });

/** The real opener: runtime/session.ts's openSession on exactly that provider (ORT's own spinning and threads). */
export const openOnProvider: SessionOpener = openerWith({});

/** Per-batch latency budget: when the first timed inferences exceed it, the batch shrinks. */
export const DEFAULT_LATENCY_BUDGET_MS = 250;
/** Inferences timed at load to adapt the batch size (issue 8: the first 3). */
export const TIMED_WARMUP_RUNS = 3;

/** How a version is loaded. */
export interface VariantOptions {
  plan: InferencePlan;
  /** Batcher tunables; maxBatch defaults to the plan's. */
  batcher?: Partial<BatcherOptions>;
  /** `on` (default): batch per `batcher`; `off`: batch 1; `auto`: batch only if warm-up timings show a gain (runtime/auto-batch.ts). */
  batching?: BatchingMode;
  /** In `auto`, the per-image gain of the full batch over batch 1 needed to keep batching. */
  minBatchGain?: number;
  latencyBudgetMs?: number;
  open?: SessionOpener;
  now?: () => number;
}

/** One item's answer and who gave it. */
export interface ItemResult {
  output: FloatTensor;
  provider: Provider;
  precision: Precision;
  /** Whether the lane that answered batches requests (see Lane.batching). */
  batched: boolean;
}

interface Lane {
  session: ModelSession;
  provider: Provider;
  precision: Precision;
  batcher: DynamicBatcher<Float32Array, FloatTensor>;
  /** Batch input buffers not in use (one per batch running at once). */
  spare: Float32Array[];
  /** Batch size before and after the latency adaptation. */
  adaptedFrom?: number;
  /** Batched or not, and why (set at warm-up). */
  batching: BatchingDecision;
}

/**
 * Shrinks the batch when the timed warm-up runs exceed the latency budget: with the median
 * run taking `t` ms for `batch` items, the new batch is ⌊budget / (t / batch)⌋ (at least 1).
 */
export function adaptMaxBatch(timingsMs: readonly number[], batch: number, budgetMs: number): number {
  const sorted = [...timingsMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (!(median > budgetMs)) return batch;
  return Math.max(1, Math.min(batch, Math.floor(budgetMs / (median / batch))));
}

const errText = (e: unknown): string => (e instanceof Error ? e.message.split('\n')[0] : String(e));

/**
 * A model version loaded for serving: a primary session (CUDA or CPU, with the precision
 * that suits it), a CPU fallback when the primary is CUDA (for GPU memory pressure), each
 * behind a dynamic batcher whose size was adapted by timed warm-up runs.
 */
export class LoadedVariant {
  /** Requests that hold this variant (a hot swap waits for them before releasing it). */
  leases = 0;
  readonly metrics = new VariantMetrics();

  /** What the model answers, known after the warm-up run. */
  task: ModelTask = 'classification';
  /** One item's output dims (batch axis 1), known after the warm-up run. */
  outputDims: number[] = [];
  private primary!: Lane;
  private fallback: Lane | undefined;

  private constructor(
    readonly version: string,
    readonly signature: string,
    readonly inputName: string,
    /** One item's input shape [C, H, W]. */
    readonly inputShape: [number, number, number],
    readonly outputName: string,
    private readonly now: () => number,
  ) {}

  /** The provider that answers unless the GPU monitor diverts to CPU. */
  get provider(): Provider {
    return this.primary.provider;
  }

  /** The precision of the primary session. */
  get precision(): Precision {
    return this.primary.precision;
  }

  /** Largest batch of the primary lane (after adaptation). */
  get maxBatch(): number {
    return this.primary.batcher.maxBatch;
  }

  /** What was loaded and decided, for logs and /healthz. */
  describe(): Record<string, unknown> {
    const lane = (l: Lane) => ({ provider: l.provider, precision: l.precision, maxBatch: l.batcher.maxBatch, ...(l.adaptedFrom ? { adaptedFrom: l.adaptedFrom } : {}), batching: l.batching });
    return { version: this.version, task: this.task, inputShape: this.inputShape, ...lane(this.primary), ...(this.fallback ? { cpuFallback: lane(this.fallback) } : {}) };
  }

  /** Loads, warms (3 timed runs) and adapts one version per the plan; a failed CUDA session falls back to CPU with a warning. */
  static async load(v: ModelVersion, opts: VariantOptions): Promise<LoadedVariant> {
    const open = opts.open ?? openOnProvider;
    const now = opts.now ?? (() => performance.now());
    const available = Object.keys(v.files) as Precision[];
    let gpu: ModelSession | undefined;
    let gpuPrecision: Precision | undefined;
    if (opts.plan.provider === 'cuda') {
      gpuPrecision = choosePrecision(available, 'gpu').precision;
      try {
        gpu = await open(v.files[gpuPrecision] as string, 'cuda');
      } catch (e) {
        warn(`model version ${v.version}: the CUDA session failed (${errText(e)}); falling back to CPU`);
      }
    }
    const cpuPrecision = choosePrecision(available, opts.plan.mode === 'light' ? 'light' : 'cpu', v.int8Faster).precision;
    const cpu = await open(v.files[cpuPrecision] as string, 'cpu');
    const first = gpu ?? cpu;
    const shape = first.inputShapes?.[0] ?? [];
    if (shape.length !== 4 || !shape.slice(1).every((d) => typeof d === 'number' && d > 0)) {
      await Promise.all([gpu?.release(), cpu.release()]);
      throw new UserError(`model version ${v.version}: input must be [N, C, H, W] with fixed C, H, W (got [${shape.join(', ')}])`);
    }
    const [c, h, w] = shape.slice(1) as number[];
    const self = new LoadedVariant(v.version, v.signature, first.inputNames[0], [c, h, w], first.outputNames[0], now);
    const batcher = { maxBatch: opts.plan.maxBatch, ...opts.batcher };
    self.primary = self.makeLane(first, gpu ? (gpuPrecision as Precision) : cpuPrecision, batcher);
    self.fallback = gpu ? self.makeLane(cpu, cpuPrecision, batcher) : undefined;
    const budget = opts.latencyBudgetMs ?? DEFAULT_LATENCY_BUDGET_MS;
    try {
      for (const lane of self.lanes()) {
        await self.warmUp(lane, budget);
        await self.chooseBatching(lane, opts.batching ?? 'on', opts.minBatchGain);
      }
    } catch (e) {
      await Promise.all(self.lanes().map((l) => l.session.release()));
      throw e;
    }
    return self;
  }

  private lanes(): Lane[] {
    return this.fallback ? [this.primary, this.fallback] : [this.primary];
  }

  private makeLane(session: ModelSession, precision: Precision, batcher: Partial<BatcherOptions>): Lane {
    const lane = { session, provider: session.provider, precision, spare: [] as Float32Array[] } as Lane;
    lane.batcher = new DynamicBatcher((items) => this.runBatch(lane, items), batcher, this.now, () => this.companyOnItsWay());
    return lane;
  }

  private async warmUp(lane: Lane, budgetMs: number): Promise<void> {
    const n = lane.batcher.maxBatch;
    const [c, h, w] = this.inputShape;
    const feed = { [this.inputName]: { data: new Float32Array(n * c * h * w), dims: [n, c, h, w] } };
    const times: number[] = [];
    let dims: number[] = [];
    for (let i = 0; i < TIMED_WARMUP_RUNS; i++) {
      const t0 = this.now();
      dims = (await lane.session.run(feed))[this.outputName].dims;
      times.push(this.now() - t0);
    }
    const adapted = adaptMaxBatch(times, n, budgetMs);
    if (adapted < n) {
      warn(`model version ${this.version} on ${lane.provider}: batch of ${n} took ${Math.round(times[1])} ms (budget ${budgetMs} ms); batch now ${adapted}`);
      lane.batcher.setMaxBatch(adapted);
      lane.adaptedFrom = n;
    }
    this.task = taskOf(dims);
    this.outputDims = [1, ...dims.slice(1)];
  }

  /**
   * Decides batching for a lane (runtime/auto-batch.ts), timing real runs in `auto`. A lane
   * that `off` or `auto` leaves unbatched gets the UNBATCHED tunables; `on` keeps its own.
   */
  private async chooseBatching(lane: Lane, mode: BatchingMode, minGain?: number): Promise<void> {
    const [c, h, w] = this.inputShape;
    const feeds = new Map<number, Record<string, FloatTensor>>();
    const time = async (n: number): Promise<number> => {
      let feed = feeds.get(n);
      if (!feed) {
        feed = { [this.inputName]: { data: new Float32Array(n * c * h * w), dims: [n, c, h, w] } };
        feeds.set(n, feed);
        await lane.session.run(feed); // a new shape's first run is not timed
      }
      const t0 = this.now();
      await lane.session.run(feed);
      return this.now() - t0;
    };
    lane.batching = await decideBatching(mode, lane.batcher.maxBatch, time, minGain);
    if (mode !== 'on' && !lane.batching.batched) lane.batcher.reconfigure(UNBATCHED);
  }

  /**
   * One model run for a batch. A lone item goes in as it is; a batch is assembled in one of
   * the lane's spare buffers (reused, so batching allocates nothing per batch), and each
   * caller gets a view of its slice of the output (no copy).
   */
  private async runBatch(lane: Lane, items: Float32Array[]): Promise<FloatTensor[]> {
    const [c, h, w] = this.inputShape;
    const size = c * h * w;
    const n = items.length;
    const buffer = n === 1 ? undefined : (lane.spare.pop() ?? new Float32Array(lane.batcher.maxBatch * size));
    let data = items[0];
    if (buffer) {
      data = buffer.length >= n * size ? buffer.subarray(0, n * size) : new Float32Array(n * size);
      for (let i = 0; i < n; i++) data.set(items[i], i * size);
    }
    try {
      const out = (await lane.session.run({ [this.inputName]: { data, dims: [n, c, h, w] } }))[this.outputName];
      this.metrics.batchSize.observe(n);
      const per = out.data.length / n;
      const dims = [1, ...out.dims.slice(1)];
      return items.map((_, i) => ({ data: out.data.subarray(i * per, (i + 1) * per), dims }));
    } finally {
      if (buffer) lane.spare.push(buffer);
    }
  }

  /**
   * Runs one item (C·H·W floats, NCHW order) through the batcher of the primary lane, or of
   * the CPU fallback when `divertToCpu` (GPU memory pressure) and there is one.
   */
  async infer(input: Float32Array, divertToCpu = false): Promise<ItemResult> {
    const [c, h, w] = this.inputShape;
    if (input.length !== c * h * w) throw new Error(`model version ${this.version}: expected ${c * h * w} inputs, got ${input.length}`);
    const lane = divertToCpu && this.fallback ? this.fallback : this.primary;
    const t0 = this.now();
    this.metrics.requests++;
    try {
      const output = await lane.batcher.submit(input);
      this.metrics.latency.observe((this.now() - t0) / 1000);
      this.metrics.byProvider[lane.provider] = (this.metrics.byProvider[lane.provider] ?? 0) + 1;
      return { output, provider: lane.provider, precision: lane.precision, batched: lane.batching.batched };
    } catch (e) {
      if (e instanceof OverloadError) this.metrics.overloads++;
      else this.metrics.failures++;
      throw e;
    }
  }

  /**
   * Whether a request that will reach a batcher is still on its way: a ModelServer request
   * holds a lease from routing to answer, so leases beyond the requests in the batchers are
   * being decoded. Without leases (direct `infer` calls) nothing is known, and batches wait.
   */
  private companyOnItsWay(): boolean {
    return this.leases === 0 || this.leases > this.inFlight;
  }

  /** A request lets go of its lease (ModelServer); a batch that was waiting only for it runs now. */
  unlease(): void {
    this.leases--;
    if (!this.companyOnItsWay()) for (const lane of this.lanes()) lane.batcher.nudge();
  }

  /** Requests queued or running in this variant's batchers. */
  get inFlight(): number {
    return this.primary.batcher.inFlight + (this.fallback?.batcher.inFlight ?? 0);
  }

  /** Waits for its batchers to drain, then releases the sessions. */
  async close(): Promise<void> {
    const lanes = this.lanes();
    await Promise.all(lanes.map((l) => l.batcher.idle()));
    await Promise.all(lanes.map((l) => l.session.release()));
  }
}
