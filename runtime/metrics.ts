/** Latency bucket bounds in seconds (Prometheus convention: base units). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Batch-size bucket bounds. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/** A cumulative histogram in Prometheus's model: bucket counts, sum and count. */
export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  /** Records one observation. */
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]) this.counts[i]++;
  }
}

/** What the runtime counts for one model variant (version × precision × provider). */
export class VariantMetrics {
  requests = 0;
  failures = 0;
  overloads = 0;
  readonly latency = new Histogram(LATENCY_BUCKETS_S);
  readonly batchSize = new Histogram(BATCH_BUCKETS);
  /** Requests answered per provider (CUDA, or CPU when the GPU monitor diverted them). */
  readonly byProvider: Record<string, number> = {};
}

/** Labels of one series, rendered in a stable order. */
export type Labels = Record<string, string>;

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const fmtLabels = (l: Labels): string => {
  const s = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`).join(',');
  return s ? `{${s}}` : '';
};

/** Builds Prometheus text exposition format (version 0.0.4), one family at a time. */
export class PrometheusText {
  private lines: string[] = [];

  /** A family header: `# HELP` and `# TYPE`. */
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample. */
  sample(name: string, labels: Labels, value: number): this {
    this.lines.push(`${name}${fmtLabels(labels)} ${Number.isFinite(value) ? value : 'NaN'}`);
    return this;
  }

  /** A histogram's `_bucket` (with `+Inf`), `_sum` and `_count` samples. */
  histogram(name: string, labels: Labels, h: Histogram): this {
    h.bounds.forEach((b, i) => this.sample(`${name}_bucket`, { ...labels, le: String(b) }, h.counts[i]));
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count);
    this.sample(`${name}_sum`, labels, h.sum);
    return this.sample(`${name}_count`, labels, h.count);
  }

  /** The exposition text, ending in a newline. */
  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}
