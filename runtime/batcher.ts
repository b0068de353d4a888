/** Tunables of the dynamic batcher (Triton's dynamic_batching: max batch, max queue delay). */
export interface BatcherOptions {
  /** Largest batch formed; 1 turns batching off. */
  maxBatch: number;
  /** How long the oldest queued request may wait for company before its batch runs. */
  maxQueueDelayMs: number;
  /** Requests waiting beyond this many are refused with an OverloadError. */
  maxQueue: number;
  /** Batches run at once (default 1: one model run at a time, the rest queue and merge). */
  concurrency?: number;
}

/** Defaults that suit small imaging models on a few cores. */
export const DEFAULT_BATCHER: BatcherOptions = { maxBatch: 32, maxQueueDelayMs: 2, maxQueue: 1024, concurrency: 1 };

/**
 * Batching off: batch 1, no queue delay, and no limit on runs at once (onnxruntime-node
 * runs them one after another on the event loop anyway, each with all intra-op threads).
 */
export const UNBATCHED: Omit<BatcherOptions, 'maxQueue'> = { maxBatch: 1, maxQueueDelayMs: 0, concurrency: Number.POSITIVE_INFINITY };

/** The queue is full: the caller should retry later (HTTP 503). */
export class OverloadError extends Error {
  override readonly name = 'OverloadError';
  constructor(queued: number, max: number) {
    super(`overloaded: ${queued} requests already queued (limit ${max}); retry later`);
  }
}

interface Pending<I, O> {
  item: I;
  enqueuedAt: number;
  resolve(o: O): void;
  reject(e: unknown): void;
}

/**
 * Dynamic batching in the manner of NVIDIA Triton's dynamic batcher: concurrent requests
 * queue and run together once `maxBatch` are waiting or the oldest has waited
 * `maxQueueDelayMs`. `runBatch` gets the items in arrival order and must return one result
 * per item in the same order; each caller receives its own. The queue is bounded.
 * When the owner can tell whether more requests are on their way (`companyOnItsWay`, e.g.
 * requests still being decoded), a batch waits for company only while some is coming: a lone
 * request with nobody behind it runs at once instead of sitting out the delay.
 */
export class DynamicBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** The request the armed timer was set for. */
  private timerHead: Pending<I, O> | undefined;
  private opts: Required<BatcherOptions>;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    opts: Partial<BatcherOptions> = {},
    private readonly now: () => number = () => performance.now(),
    /** Whether requests not yet submitted are on their way (default: always assume so, as Triton does). */
    private readonly companyOnItsWay: () => boolean = () => true,
  ) {
    this.opts = { ...DEFAULT_BATCHER, concurrency: 1, ...opts } as Required<BatcherOptions>;
  }

  /** Current largest batch. */
  get maxBatch(): number {
    return this.opts.maxBatch;
  }

  /** Changes the largest batch (the latency adapter lowers it). */
  setMaxBatch(n: number): void {
    this.opts.maxBatch = Math.max(1, Math.floor(n));
  }

  /** Changes the tunables from now on (auto batching turns batching off with UNBATCHED). */
  reconfigure(opts: Partial<BatcherOptions>): void {
    this.opts = { ...this.opts, ...opts };
    this.pump();
  }

  /** Looks again at the queue: the owner says the company a batch waited for is no longer coming. */
  nudge(): void {
    this.pump();
  }

  /** Requests waiting, not yet in a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** Requests waiting or running. */
  get inFlight(): number {
    return this.queue.length + this.running;
  }

  /** Queues one item; resolves with its result, or rejects with OverloadError when the queue is full. */
  submit(item: I): Promise<O> {
    if (this.queue.length >= this.opts.maxQueue) return Promise.reject(new OverloadError(this.queue.length, this.opts.maxQueue));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, enqueuedAt: this.now(), resolve, reject });
      this.pump();
    });
  }

  /** Resolves once nothing is queued or running (for a drained hot-swap). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Runs every batch that is due. A batch still filling leaves one timer armed for its
   * oldest request; the timer is not re-armed on each arrival. When it fires for the request
   * still at the head, that batch runs (its delay is up); a timer left from an earlier head
   * (already gone in a full batch) fires early, and pump re-arms it for the new head.
   * With no company on its way, the batch runs on the next turn of the event loop instead
   * (so requests submitted in the same turn still share it).
   */
  private pump(headDue = false): void {
    while (this.queue.length && this.running < this.opts.concurrency) {
      const waited = this.now() - this.queue[0].enqueuedAt;
      if (!headDue && this.queue.length < this.opts.maxBatch && waited < this.opts.maxQueueDelayMs) {
        if (!this.companyOnItsWay()) this.immediate ??= setImmediate(this.onImmediate);
        else if (!this.timer) {
          this.timerHead = this.queue[0];
          this.timer = setTimeout(this.onTimer, this.opts.maxQueueDelayMs - waited);
        }
        return;
      }
      headDue = false;
      void this.dispatch(this.queue.splice(0, this.opts.maxBatch));
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.pump(this.queue[0] === this.timerHead);
  };

  private readonly onImmediate = (): void => {
    this.immediate = undefined;
    this.pump(!this.companyOnItsWay());
  };

  private async dispatch(batch: Pending<I, O>[]): Promise<void> {
    this.running++;
    try {
      const out = await this.runBatch(batch.map((p) => p.item));
      if (out.length !== batch.length) throw new Error(`runBatch returned ${out.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(out[i]));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running--;
      this.pump();
      if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((r) => r());
    }
  }
}
