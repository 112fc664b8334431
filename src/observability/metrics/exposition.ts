import { Registry, type Metric, type MetricObject, type MetricObjectWithValues, type MetricValue, type OpenMetricsContentType } from 'prom-client';

/**
 * The two text formats a scrape can get, and which one it gets. Prometheus 2.x asks for
 * OpenMetrics first by default (2.42 sends `application/openmetrics-text;version=1.0.0`, then
 * version 0.0.1 at q=0.75, `text/plain;version=0.0.4` at q=0.5 and any type at q=0.1), and only
 * OpenMetrics carries exemplars. curl, promtool and anything else that does not ask for it
 * get the Prometheus text format 0.0.4, rendered exactly as before OpenMetrics existed here.
 */

export interface Exposition {
  contentType: string;
  text: string;
}

/** The OpenMetrics versions whose text prom-client's 1.0.0 answers, as client_golang's expfmt.Negotiate accepts them. */
const OPENMETRICS_VERSIONS = new Set([undefined, '1.0.0', '0.0.1']);
/** Media ranges the Prometheus text format satisfies. */
const CLASSIC_RANGES = new Set(['text/plain', 'text/*', '*/*']);

/** A media-range parameter (`q=0.5`, `version="1.0.0"`) as name (lowercase) and unquoted value. */
function parameterOf(parameter: string): [string, string] {
  const equals = parameter.indexOf('=');
  if (equals < 0) return [parameter.toLowerCase(), ''];
  return [parameter.slice(0, equals).trim().toLowerCase(), parameter.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1')];
}

/**
 * Whether an Accept header prefers OpenMetrics: it names `application/openmetrics-text` (in a
 * version we can answer) with a quality at least as high as anything the classic text satisfies.
 * No header, a header that accepts any type, or a malformed one: the classic text, as before.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let openMetrics = 0;
  let classic = 0;
  for (const range of accept.split(',')) {
    const [mediaType = '', ...parameterList] = range.split(';').map((part) => part.trim());
    const parameters = new Map(parameterList.map(parameterOf));
    const quality = parameters.has('q') ? Number(parameters.get('q')) : 1;
    if (!(quality > 0)) continue;
    const type = mediaType.toLowerCase();
    if (type === 'application/openmetrics-text' && OPENMETRICS_VERSIONS.has(parameters.get('version'))) openMetrics = Math.max(openMetrics, quality);
    else if (CLASSIC_RANGES.has(type)) classic = Math.max(classic, quality);
  }
  return openMetrics > 0 && openMetrics >= classic;
}

/**
 * prom-client makes OpenMetrics a registry-wide content type, and its OpenMetrics rendering
 * renames each counter it renders in place (`porthole_http_requests_total` becomes
 * `porthole_http_requests`, for the `# TYPE` line), which would break every later classic scrape.
 * So each OpenMetrics scrape renders from a registry of its own, holding porthole's metrics as
 * they are, except counters, which it holds as views already named without `_total` (prom-client
 * puts the suffix back on their samples). The labels that the registry adds to every metric
 * (`replica`) are added by the view too.
 */
async function openMetricsText(registry: Registry, everyMetric: Record<string, string>): Promise<string> {
  const view = new Registry<OpenMetricsContentType>();
  view.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  view.setDefaultLabels(everyMetric);
  for (const metric of registry.getMetricsAsArray() as RenderedMetric[]) view.registerMetric(asMetric(isCounter(metric) ? counterView(metric) : metric));
  return view.metrics();
}

/** What a registry reads of a metric to render it; prom-client's typings leave get() out of MetricObject. */
type RenderedMetric = MetricObject & { get(): Promise<MetricObjectWithValues<MetricValue<string>>> };

/** registerMetric is typed for the metric classes; a registry uses only the members of RenderedMetric. */
function asMetric(metric: RenderedMetric): Metric {
  return metric as unknown as Metric;
}

function isCounter(metric: RenderedMetric): boolean {
  // The typings call the type an enum; at run time it is prom-client's string.
  return (metric.type as unknown) === 'counter';
}

function counterView(counter: RenderedMetric): RenderedMetric {
  const name = counter.name.replace(/_total$/, '');
  return {
    name,
    help: counter.help,
    type: counter.type,
    aggregator: counter.aggregator,
    collect: counter.collect,
    get: async () => ({ ...(await counter.get()), name }),
  };
}

/** The answer to a scrape whose Accept header is `accept`. */
export async function expositionFor(registry: Registry, accept: string | undefined, everyMetric: Record<string, string> = {}): Promise<Exposition> {
  if (prefersOpenMetrics(accept)) return { contentType: Registry.OPENMETRICS_CONTENT_TYPE, text: await openMetricsText(registry, everyMetric) };
  return { contentType: registry.contentType, text: await registry.metrics() };
}
