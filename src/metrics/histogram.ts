import type { Metric, Registry } from 'prom-client';

/** One line of a scrape, as prom-client's registry reads it from a metric's `get()`. */
interface ScrapedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** One label set of a histogram: its bucket counts, sum and count. */
export class HistogramSeries {
  /** Per bucket, the observations that fell in it (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Adds one observation; allocates nothing. */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram for the hot paths (every request, every query). prom-client's own
 * validates and hashes its labels on every observation (about 0.5 µs, several times per request);
 * here a caller asks for a label set's series once, keeps it, and each observation is a few
 * comparisons and additions. prom-client's registry serialises it like its own histograms.
 */
export class FastHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    private readonly bounds: readonly number[],
  ) {}

  /** The series of one label set, created on first use. Callers keep it: this lookup builds a key. */
  seriesFor(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = new HistogramSeries(this.bounds, { ...labels })));
    return series;
  }

  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }

  /** What prom-client's registry reads at a scrape (the shape its Histogram returns). */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ScrapedValue[] }> {
    const values: ScrapedValue[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: this.bounds[i]! }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    this.series.clear();
  }
}
