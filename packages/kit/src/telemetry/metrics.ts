/**
 * The one metrics registry of a process: counters, gauges and histograms
 * with labels, rendered in the Prometheus text format (0.0.4) at /metrics.
 * Updating a metric is a map lookup and an add, cheap enough for every request.
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

interface Series<V> {
  readonly labels: Labels;
  value: V;
}

abstract class Metric<V> {
  protected readonly series = new Map<string, Series<V>>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: ReadonlyArray<string>,
  ) {}
  protected seriesFor(labels: Labels, init: () => V): Series<V> {
    let key = "";
    for (const name of this.labelNames) key += `${labels[name] ?? ""}\u0000`;
    let found = this.series.get(key);
    if (found === undefined) {
      found = { labels, value: init() };
      this.series.set(key, found);
    }
    return found;
  }
  abstract render(): string[];
}

/** One series of a counter or gauge, bound once so the hot path skips the label lookup. */
export interface BoundSeries {
  inc(by?: number): void;
  dec(by?: number): void;
}

/** One series of a histogram, bound once. */
export interface BoundHistogram {
  observe(value: number): void;
}

/** A value that only goes up, counted here or read from a callback at scrape time. */
export class Counter extends Metric<number> {
  private readonly collectors: Array<() => ReadonlyArray<{ labels: Labels; value: number }>> = [];
  /** Reads a monotonic total kept elsewhere (e.g. CPU seconds) when scraped; the returned function stops reading. */
  collect(read: () => ReadonlyArray<{ labels: Labels; value: number }>): () => void {
    this.collectors.push(read);
    return () => {
      const at = this.collectors.indexOf(read);
      if (at >= 0) this.collectors.splice(at, 1);
    };
  }
  /** Adds `by` (default 1) to the series of these labels. */
  inc(labels: Labels = {}, by = 1): void {
    this.seriesFor(labels, () => 0).value += by;
  }
  /** The current value of one series (0 if never incremented). */
  get(labels: Labels = {}): number {
    return this.seriesFor(labels, () => 0).value;
  }
  /** The series of these labels, for repeated updates. */
  bind(labels: Labels): Pick<BoundSeries, "inc"> {
    const series = this.seriesFor(labels, () => 0);
    return { inc: (by = 1) => void (series.value += by) };
  }
  render(): string[] {
    const lines = [...this.series.values()].map((s) => `${this.name}${formatLabels(s.labels)} ${s.value}`);
    for (const read of this.collectors) {
      for (const { labels, value } of read()) lines.push(`${this.name}${formatLabels(labels)} ${value}`);
    }
    return lines;
  }
}

/** A value that goes up and down, set directly or read from a callback at scrape time. */
export class Gauge extends Metric<number> {
  private readonly collectors: Array<() => ReadonlyArray<{ labels: Labels; value: number }>> = [];
  set(labels: Labels, value: number): void {
    this.seriesFor(labels, () => 0).value = value;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.seriesFor(labels, () => 0).value += by;
  }
  dec(labels: Labels = {}, by = 1): void {
    this.seriesFor(labels, () => 0).value -= by;
  }
  get(labels: Labels = {}): number {
    return this.seriesFor(labels, () => 0).value;
  }
  /** The series of these labels, for repeated updates. */
  bind(labels: Labels): BoundSeries {
    const series = this.seriesFor(labels, () => 0);
    return { inc: (by = 1) => void (series.value += by), dec: (by = 1) => void (series.value -= by) };
  }
  /** Reads values when scraped; the returned function stops reading. */
  collect(read: () => ReadonlyArray<{ labels: Labels; value: number }>): () => void {
    this.collectors.push(read);
    return () => {
      const at = this.collectors.indexOf(read);
      if (at >= 0) this.collectors.splice(at, 1);
    };
  }
  render(): string[] {
    const lines = [...this.series.values()].map((s) => `${this.name}${formatLabels(s.labels)} ${s.value}`);
    for (const read of this.collectors) {
      for (const { labels, value } of read()) lines.push(`${this.name}${formatLabels(labels)} ${value}`);
    }
    return lines;
  }
}

interface HistogramValue {
  /** Observations per bucket, each counted once, in the first bucket that holds it (cumulated when rendered). */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Seconds-scale buckets for request durations. */
export const durationBucketsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A distribution of observed values in cumulative buckets. */
export class Histogram extends Metric<HistogramValue> {
  constructor(
    name: string,
    help: string,
    labelNames: ReadonlyArray<string>,
    readonly buckets: ReadonlyArray<number> = durationBucketsSeconds,
  ) {
    super(name, help, labelNames);
  }
  observe(labels: Labels, value: number): void {
    this.bind(labels).observe(value);
  }
  /** The series of these labels, for repeated observations. */
  bind(labels: Labels): BoundHistogram {
    const v = this.seriesFor(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 })).value;
    const buckets = this.buckets;
    return {
      // One add in the first bucket that holds the value; render() makes the buckets cumulative.
      observe: (value) => {
        let i = 0;
        while (i < buckets.length && value > buckets[i]!) i++;
        if (i < buckets.length) v.counts[i]!++;
        v.sum += value;
        v.count++;
      },
    };
  }
  /** Observation count and sum of one series. */
  get(labels: Labels = {}): { count: number; sum: number } {
    const v = this.seriesFor(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 })).value;
    return { count: v.count, sum: v.sum };
  }
  render(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += value.counts[i]!;
        lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: String(le) })} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${value.count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${value.sum}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${value.count}`);
    }
    return lines;
  }
}

const typeOf = (metric: Metric<unknown>) =>
  metric instanceof Counter ? "counter" : metric instanceof Histogram ? "histogram" : "gauge";

/** Every metric of the process; asking twice for a name returns the same metric. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric<unknown>>();

  counter(name: string, help: string, labelNames: ReadonlyArray<string> = []): Counter {
    return this.register(name, () => new Counter(name, help, labelNames), Counter);
  }
  gauge(name: string, help: string, labelNames: ReadonlyArray<string> = []): Gauge {
    return this.register(name, () => new Gauge(name, help, labelNames), Gauge);
  }
  histogram(name: string, help: string, labelNames: ReadonlyArray<string> = [], buckets?: ReadonlyArray<number>): Histogram {
    return this.register(name, () => new Histogram(name, help, labelNames, buckets), Histogram);
  }

  /** The Prometheus text exposition of every metric. */
  render(): string {
    const out: string[] = [];
    for (const metric of this.metrics.values()) {
      const lines = metric.render();
      if (lines.length === 0) continue;
      out.push(`# HELP ${metric.name} ${metric.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      out.push(`# TYPE ${metric.name} ${typeOf(metric)}`);
      out.push(...lines);
    }
    return `${out.join("\n")}\n`;
  }

  private register<M extends Metric<unknown>>(name: string, make: () => M, kind: abstract new (...args: never[]) => M): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`invalid metric name ${name}`);
    const existing = this.metrics.get(name);
    if (existing !== undefined) {
      if (!(existing instanceof kind)) throw new TypeError(`metric ${name} is already registered as another type`);
      return existing as M;
    }
    const created = make();
    this.metrics.set(name, created);
    return created;
  }
}

/** The process-wide registry: one per process, even when several services run in it (labels carry the service). */
export const metrics = new MetricsRegistry();

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`).join(",")}}`;
}
