import { UserError } from '../core/errors.ts';
import { info, warn } from '../core/log.ts';
import { pickArm, type SplitArm } from './ab.ts';
import { GpuMemoryMonitor } from './gpu-monitor.ts';
import { PrometheusText } from './metrics.ts';
import { planInference, type InferencePlan } from './plan.ts';
import { systemProbes, type SystemProbes } from './probes.ts';
import { scanRepository } from './repository.ts';
import { LoadedVariant, type ItemResult, type VariantOptions } from './variant.ts';

/** How a model server is set up; every probe and the session opener are injectable. */
export interface ModelServerOptions extends Omit<VariantOptions, 'plan'> {
  probes?: SystemProbes;
  /** Overrides the plan planInference would make from the probes. */
  plan?: InferencePlan;
  /** Watches GPU memory; by default one polling the probes' nvidia-smi when the plan uses CUDA. */
  gpuMonitor?: GpuMemoryMonitor;
  /** Picks an arm when a request has no key (default Math.random). */
  random?: () => number;
}

/** The variants in service and the traffic split between them: replaced as a whole, never edited. */
interface Routing {
  variants: ReadonlyMap<string, LoadedVariant>;
  split: readonly SplitArm[];
}

/** A request's hold on one variant: the variant will not be released before `release()`. */
export interface Lease {
  variant: LoadedVariant;
  release(): void;
}

/** The outcome of a reload: what came in and went out, or why nothing changed. */
export interface ReloadOutcome {
  loaded: string[];
  retired: string[];
  error?: string;
}

/**
 * Serves a model repository: the versions of its split loaded per the inference plan,
 * A/B routing by a stable hash of the request key, hot swap (new versions loaded and warmed
 * before one atomic switch; in-flight requests finish on the old; a failed load keeps the
 * old), the GPU memory monitor, and per-variant metrics.
 */
export class ModelServer {
  private routing: Routing = { variants: new Map(), split: [] };
  private reloading: Promise<unknown> | undefined;
  private swaps = 0;
  private failedReloads = 0;
  private readonly retiring = new Set<LoadedVariant>();

  private constructor(
    readonly root: string,
    readonly plan: InferencePlan,
    private readonly opts: ModelServerOptions,
    readonly gpuMonitor: GpuMemoryMonitor | undefined,
  ) {}

  /** Plans, loads the repository's split and starts the GPU monitor; throws when the first load fails. */
  static async open(root: string, opts: ModelServerOptions = {}): Promise<ModelServer> {
    const probes = opts.probes ?? systemProbes;
    const plan = opts.plan ?? planInference(probes, opts.batcher?.maxBatch);
    const monitor = opts.gpuMonitor ?? (plan.provider === 'cuda' ? new GpuMemoryMonitor(() => probes.gpus()) : undefined);
    const server = new ModelServer(root, plan, opts, monitor);
    const first = await server.reload();
    if (first.error) throw new UserError(first.error.replace(/^model reload failed, still serving nothing: /, ''));
    if (monitor && !opts.gpuMonitor) monitor.start();
    return server;
  }

  /** The variants now in service, by version. */
  get variants(): ReadonlyMap<string, LoadedVariant> {
    return this.routing.variants;
  }

  /** The traffic split now in force. */
  get split(): readonly SplitArm[] {
    return this.routing.split;
  }

  /** Routes a request (by `key` when given) to a variant and holds it until `release()`. */
  acquire(key?: string): Lease {
    const r = this.routing;
    if (!r.split.length) throw new Error('no model version is in service');
    const variant = r.variants.get(pickArm(r.split, key, this.opts.random).version) as LoadedVariant;
    variant.leases++;
    let done = false;
    return {
      variant,
      release: () => {
        if (!done) variant.unlease();
        done = true;
      },
    };
  }

  /** Runs one item on the variant of a lease, on the CPU while the GPU monitor says so. */
  run(lease: Lease, input: Float32Array): Promise<ItemResult> {
    return lease.variant.infer(input, this.gpuMonitor?.divertToCpu ?? false);
  }

  /** acquire + run + release, for callers that need nothing between. */
  async infer(input: Float32Array, key?: string): Promise<ItemResult & { version: string }> {
    const lease = this.acquire(key);
    try {
      return { ...(await this.run(lease, input)), version: lease.variant.version };
    } finally {
      lease.release();
    }
  }

  /** Rescans the repository and hot-swaps; calls run one after another, each rescanning. */
  reload(): Promise<ReloadOutcome> {
    const next = (this.reloading ?? Promise.resolve()).catch(() => undefined).then(() => this.swap());
    this.reloading = next;
    return next;
  }

  private async swap(): Promise<ReloadOutcome> {
    const old = this.routing;
    const fresh: LoadedVariant[] = [];
    let next: Map<string, LoadedVariant>;
    let split: SplitArm[];
    try {
      const state = scanRepository(this.root);
      split = state.split;
      next = new Map();
      for (const arm of split) {
        const v = state.versions.find((x) => x.version === arm.version);
        if (!v) throw new Error(`version ${arm.version} vanished`);
        const keep = old.variants.get(v.version);
        if (keep && keep.signature === v.signature) next.set(v.version, keep);
        else {
          const loaded = await LoadedVariant.load(v, { ...this.opts, plan: this.plan });
          fresh.push(loaded);
          next.set(v.version, loaded);
        }
      }
    } catch (e) {
      await Promise.all(fresh.map((v) => v.close()));
      this.failedReloads++;
      const error = `model reload failed, still serving ${[...old.variants.keys()].join(', ') || 'nothing'}: ${e instanceof Error ? e.message : e}`;
      if (old.variants.size) warn(error);
      return { loaded: [], retired: [], error };
    }
    this.routing = { variants: next, split }; // the atomic switch
    const retired = [...old.variants.values()].filter((v) => ![...next.values()].includes(v));
    if (fresh.length || retired.length) this.swaps++;
    for (const v of fresh) info(`serving model version ${v.version}: ${JSON.stringify(v.describe())}`);
    void Promise.all(retired.map((v) => this.retire(v)));
    return { loaded: fresh.map((v) => v.version), retired: retired.map((v) => v.version) };
  }

  /** Waits until no request holds the variant and its batchers are idle, then releases it. */
  private async retire(v: LoadedVariant): Promise<void> {
    this.retiring.add(v);
    while (v.leases > 0) await new Promise((r) => setTimeout(r, 5));
    await v.close();
    this.retiring.delete(v);
  }

  /** Liveness and what is served, for /healthz. */
  health(): Record<string, unknown> {
    return {
      status: this.routing.variants.size ? 'ok' : 'empty',
      mode: this.plan.mode,
      split: this.routing.split,
      variants: [...this.routing.variants.values()].map((v) => v.describe()),
      gpuDivertedToCpu: this.gpuMonitor?.divertToCpu ?? false,
    };
  }

  /** Per-variant metrics and the server's own, in Prometheus text format. */
  metricsText(): string {
    const p = new PrometheusText();
    const all = [...this.routing.variants.values(), ...this.retiring];
    const labels = (v: LoadedVariant) => ({ version: v.version, precision: v.precision, provider: v.provider });
    p.family('fedkd_requests_total', 'counter', 'Inference requests per model variant.');
    for (const v of all) p.sample('fedkd_requests_total', labels(v), v.metrics.requests);
    p.family('fedkd_request_failures_total', 'counter', 'Requests that failed in the model.');
    for (const v of all) p.sample('fedkd_request_failures_total', labels(v), v.metrics.failures);
    p.family('fedkd_request_overloads_total', 'counter', 'Requests refused because the queue was full.');
    for (const v of all) p.sample('fedkd_request_overloads_total', labels(v), v.metrics.overloads);
    p.family('fedkd_requests_by_provider_total', 'counter', 'Answered requests per variant and the provider that ran them.');
    for (const v of all) for (const [prov, n] of Object.entries(v.metrics.byProvider)) p.sample('fedkd_requests_by_provider_total', { ...labels(v), ran_on: prov }, n);
    p.family('fedkd_request_latency_seconds', 'histogram', 'Time from queueing to result, per variant.');
    for (const v of all) p.histogram('fedkd_request_latency_seconds', labels(v), v.metrics.latency);
    p.family('fedkd_batch_size', 'histogram', 'Sizes of the batches the dynamic batcher formed.');
    for (const v of all) p.histogram('fedkd_batch_size', labels(v), v.metrics.batchSize);
    p.family('fedkd_queue_depth', 'gauge', 'Requests queued or running per variant.');
    for (const v of all) p.sample('fedkd_queue_depth', labels(v), v.inFlight);
    p.family('fedkd_split_weight', 'gauge', 'A/B weight of each version in service.');
    for (const a of this.routing.split) p.sample('fedkd_split_weight', { version: a.version }, a.weight);
    p.family('fedkd_model_swaps_total', 'counter', 'Hot swaps that changed the variants in service.').sample('fedkd_model_swaps_total', {}, this.swaps);
    p.family('fedkd_model_reload_failures_total', 'counter', 'Reloads that failed and kept the old variants.').sample('fedkd_model_reload_failures_total', {}, this.failedReloads);
    p.family('fedkd_gpu_memory_used_ratio', 'gauge', 'Used fraction of the busiest GPU at the last poll.').sample('fedkd_gpu_memory_used_ratio', {}, this.gpuMonitor?.usedFraction ?? 0);
    return p.toString();
  }

  /** Stops the monitor and releases every session once its requests finish. */
  async close(): Promise<void> {
    this.gpuMonitor?.stop();
    const vs = [...this.routing.variants.values()];
    this.routing = { variants: new Map(), split: [] };
    await Promise.all(vs.map((v) => this.retire(v)));
  }
}
