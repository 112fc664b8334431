import {
  Counter,
  Histogram,
  type CounterConfiguration,
  type HistogramConfiguration,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValueWithName,
} from 'prom-client';

/**
 * Counters and histograms for the request path. prom-client hashes and validates the label set
 * on every update (about 2 µs each); a manifest GET makes about a dozen updates, which measured
 * 16% of the server's CPU per request. These accumulate in a Map keyed by a cheap string the
 * caller builds from the label values (the labels object is kept from the first update of each
 * key), and hand the result to prom-client when it collects (at scrape time), so encoding,
 * registration and naming stay prom-client's.
 */
export class KeyedCounter<T extends string> extends Counter<T> {
  private readonly pending = new Map<string, { labels: LabelValues<T>; delta: number }>();

  constructor(config: CounterConfiguration<T>) {
    super({
      ...config,
      collect() {
        (this as KeyedCounter<T>).flush();
      },
    });
  }

  /** `key` must be the same for the same label values and differ otherwise. */
  add(key: string, labels: LabelValues<T>, delta = 1): void {
    const entry = this.pending.get(key);
    if (entry) entry.delta += delta;
    else this.pending.set(key, { labels, delta });
  }

  private flush(): void {
    for (const { labels, delta } of this.pending.values()) this.inc(labels, delta);
    this.pending.clear();
  }
}

interface Series<T extends string> {
  labels: LabelValues<T>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

type HistogramValues<T extends string> = MetricObjectWithValues<MetricValueWithName<T>>;

/** See KeyedCounter; the buckets are kept here and rendered in prom-client's own value shape. */
export class KeyedHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: number[];
  private readonly series = new Map<string, Series<T>>();
  private readonly metricName: string;
  private readonly helpText: string;

  constructor(config: HistogramConfiguration<T> & { buckets: number[] }) {
    super(config);
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.metricName = config.name;
    this.helpText = config.help;
  }

  observeKey(key: string, labels: LabelValues<T>, value: number): void {
    let series = this.series.get(key);
    if (!series) {
      series = { labels, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    let bucket = 0;
    while (bucket < this.bounds.length && value > (this.bounds[bucket] as number)) bucket += 1;
    series.counts[bucket] = (series.counts[bucket] as number) + 1;
    series.sum += value;
    series.count += 1;
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    (this.series as Map<string, Series<T>> | undefined)?.clear();
  }

  override async get(): Promise<HistogramValues<T>> {
    const name = this.metricName;
    const values: Array<MetricValueWithName<string>> = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, index) => {
        cumulative += counts[index] as number;
        values.push({ labels: { ...labels, le: bound }, value: cumulative, metricName: `${name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: count, metricName: `${name}_bucket` });
      values.push({ labels, value: sum, metricName: `${name}_sum` });
      values.push({ labels, value: count, metricName: `${name}_count` });
    }
    return {
      name,
      help: this.helpText,
      // prom-client's typings call the type an enum; at run time (and in its own output) it is 'histogram'.
      type: 'histogram' as unknown as HistogramValues<T>['type'],
      // Bucket values carry the `le` label, which the typings of a histogram's own labels omit.
      values: values as Array<MetricValueWithName<T>>,
      aggregator: 'sum',
      collect: () => undefined,
    };
  }

  /** The registry renders text from this method when a metric has it; the same values serve. */
  getForPromString(): Promise<HistogramValues<T>> {
    return this.get();
  }
}
