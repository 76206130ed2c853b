/**
 * A small metrics registry: counters, gauges and histograms with labels,
 * written out in the Prometheus text exposition format (version 0.0.4).
 * Services increment; `/metrics` renders. Gauges whose value lives
 * elsewhere (the store's queue depth) are filled by a collector run just
 * before each render.
 */

/** Label names to values, e.g. { protocol: 'imap' }. */
export type Labels = Record<string, string>;

type Kind = 'counter' | 'gauge' | 'histogram';

/** The key of one series: its label pairs in a fixed order. */
function seriesKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k]!)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

abstract class Metric {
  abstract readonly kind: Kind;
  constructor(readonly name: string, readonly help: string) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`"${name}" is not a Prometheus metric name`);
  }
  abstract lines(): string[];
}

/** A value that only goes up (requests served, failures seen). */
export class Counter extends Metric {
  readonly kind = 'counter';
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error('a counter only goes up');
    const key = seriesKey(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels: { ...labels }, value: by });
  }

  /** The current value of one series (0 if never incremented). */
  get(labels: Labels = {}): number {
    return this.series.get(seriesKey(labels))?.value ?? 0;
  }

  lines(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
}

/** A value that goes up and down (open connections, queue depth). */
export class Gauge extends Metric {
  readonly kind = 'gauge';
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  set(labels: Labels, value: number): void {
    const key = seriesKey(labels);
    const s = this.series.get(key);
    if (s) s.value = value;
    else this.series.set(key, { labels: { ...labels }, value });
  }

  inc(labels: Labels = {}, by = 1): void {
    this.set(labels, this.get(labels) + by);
  }

  dec(labels: Labels = {}, by = 1): void {
    this.set(labels, this.get(labels) - by);
  }

  get(labels: Labels = {}): number {
    return this.series.get(seriesKey(labels))?.value ?? 0;
  }

  /** Forgets every series (a collector about to set them all afresh). */
  reset(): void {
    this.series.clear();
  }

  lines(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
}

/** Observations counted into cumulative buckets (latencies), with their sum and count. */
export class Histogram extends Metric {
  readonly kind = 'histogram';
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, readonly buckets: readonly number[]) {
    super(name, help);
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) throw new Error('histogram buckets must ascend');
  }

  observe(labels: Labels, value: number): void {
    const key = seriesKey(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Times an async call (in seconds) into the series of `labels`. */
  async time<T>(labels: Labels, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }

  count(labels: Labels = {}): number {
    return this.series.get(seriesKey(labels))?.count ?? 0;
  }

  lines(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${formatLabels(s.labels, ['le', formatValue(b)])} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${formatLabels(s.labels, ['le', '+Inf'])} ${s.count}`);
      out.push(`${this.name}_sum${formatLabels(s.labels)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${formatLabels(s.labels)} ${s.count}`);
    }
    return out;
  }
}

/** Latency buckets in seconds, from 1 ms to 10 s. */
export const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The metrics of one process, by name; a name is registered once. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors = new Set<() => Promise<void> | void>();

  counter(name: string, help: string): Counter {
    return this.register(name, () => new Counter(name, help), Counter);
  }

  gauge(name: string, help: string): Gauge {
    return this.register(name, () => new Gauge(name, help), Gauge);
  }

  histogram(name: string, help: string, buckets: readonly number[] = latencyBuckets): Histogram {
    return this.register(name, () => new Histogram(name, help, buckets), Histogram);
  }

  /** Asking twice for one name gives the same metric, so modules may declare what they use. */
  private register<M extends Metric>(name: string, make: () => M, type: abstract new (...args: never[]) => M): M {
    const existing = this.metrics.get(name);
    if (existing) {
      if (!(existing instanceof type)) throw new Error(`metric ${name} is registered as a ${existing.kind}`);
      return existing;
    }
    const made = make();
    this.metrics.set(name, made);
    return made;
  }

  /** A function run before every render (to read gauges from elsewhere); returns the function that removes it. */
  addCollector(collect: () => Promise<void> | void): () => void {
    this.collectors.add(collect);
    return () => this.collectors.delete(collect);
  }

  /** Runs the collectors (a failing one is skipped), then renders every metric. */
  async render(): Promise<string> {
    await Promise.allSettled([...this.collectors].map(async (c) => c()));
    const out: string[] = [];
    for (const m of [...this.metrics.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      out.push(`# TYPE ${m.name} ${m.kind}`);
      out.push(...m.lines());
    }
    return `${out.join('\n')}\n`;
  }
}

/** The text format's content type. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';
