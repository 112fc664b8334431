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

/** The labels of an OpenMetrics exemplar: for a trace, `trace_id` and `span_id`. */
export type ExemplarLabels = Readonly<Record<string, string>>;

/**
 * OpenMetrics caps an exemplar's label names and values at 128 characters together, and
 * Prometheus fails the whole scrape on one that is longer: such an exemplar is not kept.
 */
const MAX_EXEMPLAR_LABEL_CHARACTERS = 128;

function fitsOpenMetrics(labels: ExemplarLabels): boolean {
  let characters = 0;
  for (const name in labels) characters += name.length + (labels[name] as string).length;
  return characters <= MAX_EXEMPLAR_LABEL_CHARACTERS;
}

/** prom-client's registry renders a value's `exemplar` in this shape (OpenMetrics only). */
interface BucketExemplar {
  labelSet: ExemplarLabels;
  value: number;
  /** Unix seconds, with milliseconds. */
  timestamp: number;
}

interface Series<T extends string> {
  labels: LabelValues<T>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
  /** The latest exemplar of each bucket, slots as in counts; undefined until the first exemplar. */
  exemplars: Array<BucketExemplar | undefined> | undefined;
}

type ValueWithExemplar = MetricValueWithName<string> & { exemplar?: BucketExemplar };
type HistogramValues<T extends string> = MetricObjectWithValues<MetricValueWithName<T>>;

/**
 * See KeyedCounter; the buckets are kept here and rendered in prom-client's own value shape.
 * An observation may carry an exemplar, which becomes its bucket's exemplar (the latest wins, as
 * OpenMetrics allows one per bucket line); an observation without one costs nothing more.
 */
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

  observeKey(key: string, labels: LabelValues<T>, value: number, exemplar?: ExemplarLabels): void {
    let series = this.series.get(key);
    if (!series) {
      series = { labels, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0, exemplars: undefined };
      this.series.set(key, series);
    }
    let bucket = 0;
    while (bucket < this.bounds.length && value > (this.bounds[bucket] as number)) bucket += 1;
    series.counts[bucket] = (series.counts[bucket] as number) + 1;
    series.sum += value;
    series.count += 1;
    if (exemplar !== undefined) this.keepExemplar(series, bucket, value, exemplar);
  }

  private keepExemplar(series: Series<T>, bucket: number, value: number, labels: ExemplarLabels): void {
    if (!fitsOpenMetrics(labels)) return;
    series.exemplars ??= new Array<BucketExemplar | undefined>(this.bounds.length + 1);
    series.exemplars[bucket] = { labelSet: labels, value, timestamp: Date.now() / 1000 };
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    (this.series as Map<string, Series<T>> | undefined)?.clear();
  }

  /** What prom-client's JSON (minimal mode's snapshot) is made of: no exemplars, which only OpenMetrics text carries. */
  override async get(): Promise<HistogramValues<T>> {
    return this.collected(false);
  }

  /** The registry renders text from this method when a metric has it; exemplars show in OpenMetrics only. */
  getForPromString(): Promise<HistogramValues<T>> {
    return this.collected(true);
  }

  private async collected(withExemplars: boolean): Promise<HistogramValues<T>> {
    const name = this.metricName;
    const bucketName = `${name}_bucket`;
    const values: ValueWithExemplar[] = [];
    for (const { labels, counts, sum, count, exemplars } of this.series.values()) {
      const bucketExemplars = withExemplars ? exemplars : undefined;
      let cumulative = 0;
      this.bounds.forEach((bound, index) => {
        cumulative += counts[index] as number;
        values.push(bucketValue({ ...labels, le: bound }, cumulative, bucketName, bucketExemplars?.[index]));
      });
      values.push(bucketValue({ ...labels, le: '+Inf' }, count, bucketName, bucketExemplars?.[this.bounds.length]));
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
}

/** A bucket line's value; the `exemplar` key only when there is one, so other values keep their shape. */
function bucketValue(labels: LabelValues<string>, value: number, metricName: string, exemplar: BucketExemplar | undefined): ValueWithExemplar {
  return exemplar === undefined ? { labels, value, metricName } : { labels, value, metricName, exemplar };
}
