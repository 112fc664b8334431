import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startApiExporter, type ApiExporterProcess } from '../helpers/api-exporter-process.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { startExporter, type ExporterProcess } from '../helpers/exporter-process.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus-process.js';
import { startPushgateway, type PushgatewayProcess } from '../helpers/pushgateway-process.js';
import { raw } from '../helpers/raw-http.js';
import { makeImage, OCI_MANIFEST, pushChunked } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { loadDashboards, OBSERVABILITY_DIR, panelQueries, substitute, variableQuery, type LoadedDashboard } from './dashboards.js';

/**
 * The dashboards against the real thing: porthole in full mode (auth on, a docker-registry as
 * its pull-through upstream, tracing for exemplars, jobs pushing to a Pushgateway), a second
 * porthole on the same storage in minimal mode read by porthole-exporter, porthole-exporter api
 * reading the first, and a Prometheus running a copy of observability/prometheus/prometheus.yml
 * whose targets are these processes. After a small load, every PromQL expression of every panel
 * goes through Prometheus' HTTP API as Grafana would send it: each must return data.
 */

const PASSWORD = 'observability-admin-1';
const NAMESPACE = 'upstream';
/** What $__rate_interval stands for: a few of the test copy's 1 s scrapes. */
const RATE_INTERVAL = '10s';
const PROMETHEUS_DIR = join(OBSERVABILITY_DIR, 'prometheus');

interface ScrapeConfig {
  job_name: string;
  static_configs: Array<{ targets: string[] }>;
}
interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}

/** The repository's prometheus.yml with each job's targets replaced, 1 s scrapes, and the rules by absolute path. */
async function testCopy(targets: Record<string, string>): Promise<string> {
  const config = parse(await readFile(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as PrometheusConfig;
  config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
  config.rule_files = config.rule_files.map((file) => join(PROMETHEUS_DIR, file));
  const jobs = config.scrape_configs.map((job) => job.job_name);
  assert.deepEqual([...jobs].sort(), Object.keys(targets).sort(), 'a started process for every job of prometheus.yml');
  for (const job of config.scrape_configs) job.static_configs = [{ targets: [targets[job.job_name] as string] }];
  return stringify(config);
}

interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

async function queryRange(prometheus: PrometheusProcess, expr: string, startMs: number, endMs: number): Promise<RangeSeries[]> {
  const parameters = new URLSearchParams({ query: expr, start: String(startMs / 1000), end: String(endMs / 1000), step: '1' });
  const response = await fetch(`${prometheus.url}/api/v1/query_range`, { method: 'POST', body: parameters, signal: AbortSignal.timeout(10_000) });
  const answer = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: RangeSeries[] } };
  if (answer.status !== 'success' || !answer.data) throw new Error(`${answer.error ?? JSON.stringify(answer)}`);
  assert.equal(answer.data.resultType, 'matrix');
  return answer.data.result;
}

async function labelValues(prometheus: PrometheusProcess, query: string): Promise<string[]> {
  const match = /^label_values\(([a-z_:]+), ([a-z_]+)\)$/.exec(query);
  assert.ok(match, `a label_values(metric, label) query: ${query}`);
  const response = await fetch(`${prometheus.url}/api/v1/label/${match[2]}/values?${new URLSearchParams({ 'match[]': match[1] as string }).toString()}`, { signal: AbortSignal.timeout(10_000) });
  const answer = (await response.json()) as { status: string; data?: string[] };
  assert.equal(answer.status, 'success', query);
  return answer.data ?? [];
}

/** A chosen value as Grafana writes it into a =~ matcher: regex-escaped, then escaped for the PromQL string. */
function regexEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\/g, '\\\\');
}

describe('the dashboards and alerts against porthole, its exporters, a Pushgateway and Prometheus', { timeout: 240_000, skip: skipUnlessTools('prometheus', 'prometheus-pushgateway', 'docker-registry', 'htpasswd') }, () => {
  let work: string;
  let root: string;
  let upstream: DistributionProcess | undefined;
  let pushgateway: PushgatewayProcess | undefined;
  let collector: OtlpReceiver | undefined;
  let full: PortholeProcess | undefined;
  let minimal: PortholeProcess | undefined;
  let exporter: ExporterProcess | undefined;
  let apiExporter: ApiExporterProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let dashboards: LoadedDashboard[];
  let loadStartMs = 0;
  let loadEndMs = 0;

  before(async () => {
    work = await tempDir('observability-live');
    root = await tempDir('observability-root');
    const htpasswd = join(work, 'htpasswd');
    await addHtpasswdUsers(htpasswd, { admin: PASSWORD }, { create: true });
    dashboards = await loadDashboards();
    [upstream, pushgateway, collector] = await Promise.all([startDistribution(), startPushgateway(), startOtlpReceiver()]);
    for (const repository of ['library/app', 'library/other']) await makeImage(upstream.url, repository, { tag: 'v1', blobStyle: 'post-put', layerSize: 8192 });
    // Auth on, with anonymous pull and push so that the test's plain clients work; the admin
    // (the API exporter's user) may read the management API.
    const common = [
      'auth:',
      `  htpasswd: { path: ${htpasswd} }`,
      'accessControl:',
      '  repositories:',
      '    "**": { anonymousPolicy: [pull, push], defaultPolicy: [pull, push, delete] }',
      '  adminPolicy: { users: [admin], actions: [pull, push, delete] }',
      'proxy:',
      `  upstreams: [{ name: ${NAMESPACE}, url: "${upstream.url}" }]`,
      'jobs:',
      `  pushgateway: { url: "${pushgateway.url}", groupingKey: { instance: observability-test } }`,
      'storage:',
      '  heartbeatInterval: 1s',
    ];
    full = await startPorthole({
      root,
      args: ['--metrics'],
      config: [...common, 'extensions:', '  metrics:', '    reportingInterval: 500ms', 'tracing:', '  enable: true', '  samplingProb: 1', `  endpoint: ${collector.url}`, ''].join('\n'),
    });
    minimal = await startPorthole({ root, config: [...common, ''].join('\n') });
    [exporter, apiExporter] = await Promise.all([
      startExporter({ config: { Server: { host: '127.0.0.1', port: String(minimal.port) } } }),
      startApiExporter({ connectionString: full.url, args: ['--enable-tls=false', '--interval', '1s', '--username', 'admin', '--password', PASSWORD] }),
    ]);
    const configText = await testCopy({
      porthole: full.host,
      'porthole-exporter': `127.0.0.1:${exporter.port}`,
      'oci-registry-exporter': `127.0.0.1:${apiExporter.port}`,
      pushgateway: pushgateway.target,
    });
    await writeFile(join(work, 'prometheus.yml'), configText);
    prometheus = await startPrometheus({ configText, features: ['exemplar-storage'] });
    await runLoad();
  });

  after(async () => {
    await prometheus?.dispose();
    await Promise.all([exporter?.dispose(), apiExporter?.dispose()]);
    await Promise.all([full?.stop(), minimal?.stop()]);
    await Promise.all([upstream?.dispose(), pushgateway?.dispose(), collector?.close()]);
    await cleanup(work, root);
  });

  function running<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} did not start`);
    return value;
  }

  /** Pushes, pulls, pulls through the cache, errors, a failed login and a gc run pushed to the gateway. */
  async function runLoad(): Promise<void> {
    const prom = running(prometheus, 'prometheus');
    const p = running(full, 'porthole');
    const m = running(minimal, 'the minimal porthole');
    // A first scrape of each target before any traffic, so that rate() sees the traffic's increase.
    await Promise.all(['porthole', 'porthole-exporter', 'oci-registry-exporter', 'pushgateway'].map((job) => prom.scrapedSince(job, 0, 30_000)));
    loadStartMs = Date.now();
    // Two rounds with a scrape between: a series is born with its first increments, so rate()
    // sees an increase only from what happens after the scrape that first saw it. Each round
    // pulls an image through the cache that the other did not (upstream fetches in both) and
    // pushes a chunked blob (upload lock waits in both).
    const accept = { accept: OCI_MANIFEST };
    for (const [round, upstreamRepository] of ['library/app', 'library/other'].entries()) {
      const pulled = await makeImage(p.url, `team/app${round}`, { tag: 'v1', layerSize: 16_384 });
      await makeImage(m.url, `team/minimal${round}`, { tag: 'v1' });
      await pushChunked(p.url, `team/app${round}`, randomBytes(3000), 1000);
      for (let pull = 0; pull < 3; pull++) {
        for (const server of [p, m]) {
          assert.equal((await raw(server.url, { path: `/v2/team/app${round}/manifests/v1`, headers: accept })).status, 200);
          assert.equal((await raw(server.url, { path: `/v2/team/app${round}/blobs/${pulled.layerDigest}` })).status, 200);
          assert.equal((await raw(server.url, { path: `/v2/${NAMESPACE}/${upstreamRepository}/manifests/v1`, headers: accept })).status, 200);
          assert.equal((await raw(server.url, { path: '/v2/team/missing/manifests/v1', headers: accept })).status, 404);
        }
        // The admin's requests: logins that succeed, and requests by user.
        assert.equal((await raw(p.url, { path: '/v2/_catalog', headers: basicHeaders('admin', PASSWORD) })).status, 200);
      }
      const upstreamManifest = (await raw(p.url, { path: `/v2/${NAMESPACE}/${upstreamRepository}/manifests/v1`, headers: accept })).json() as { layers: Array<{ digest: string }> };
      for (let pull = 0; pull < 2; pull++) {
        assert.equal((await raw(p.url, { path: `/v2/${NAMESPACE}/${upstreamRepository}/blobs/${upstreamManifest.layers[0]?.digest}` })).status, 200);
      }
      if (round === 0) await Promise.all([prom.scrapedSince('porthole', Date.now() + 500, 30_000), prom.scrapedSince('porthole-exporter', Date.now() + 500, 30_000)]);
    }
    // Two wrong passwords: failures, well below the limit that would lock the address (and the exporter) out.
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.equal((await raw(p.url, { path: '/v2/', headers: basicHeaders('admin', 'wrong-password') })).status, 401);
    }
    // A gc run from the CLI beside both servers, pushing its outcome to the Pushgateway.
    const gcAt = Date.now();
    const gc = await runCli(['gc', '--root', root, '--pushgateway', running(pushgateway, 'the Pushgateway').url]);
    assert.equal(gc.code, 0, gc.stderr);
    assert.equal((JSON.parse(gc.stdout.trim().split('\n').pop() as string) as { pushed?: boolean }).pushed, true, gc.stdout);
    loadEndMs = Date.now();
    // Scrapes after the load: the gateway after the push, the API exporter after a collection
    // that saw the run record, porthole after its storage gauges followed the pushes.
    await Promise.all([
      prom.scrapedSince('pushgateway', gcAt + 1000, 30_000),
      prom.scrapedSince('oci-registry-exporter', gcAt + 3000, 30_000),
      prom.scrapedSince('porthole', loadEndMs + 3000, 30_000),
      prom.scrapedSince('porthole-exporter', loadEndMs + 3000, 30_000),
    ]);
  }

  it('Prometheus scrapes every job of prometheus.yml, and its rules load and evaluate without error', async () => {
    const prom = running(prometheus, 'prometheus');
    const up = await prom.query('up');
    assert.deepEqual(Object.fromEntries(up.map((sample) => [sample.labels.job, sample.value])), { porthole: 1, 'porthole-exporter': 1, 'oci-registry-exporter': 1, pushgateway: 1 });
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) })).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const all = rules.data.groups.flatMap((group) => group.rules);
    assert.ok(all.length >= 15, `${all.length} rules loaded`);
    assert.deepEqual(all.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`), []);
  });

  it('the dashboards\' variables find their values', async () => {
    const prom = running(prometheus, 'prometheus');
    for (const { file, dashboard } of dashboards) {
      for (const variable of dashboard.templating.list.filter((one) => one.type === 'query')) {
        const values = await labelValues(prom, variableQuery(variable) ?? '');
        assert.ok(values.length > 0, `${file}: $${variable.name} has no values`);
        if (variable.name === 'instance') assert.ok(values.includes(running(full, 'porthole').host), `${file}: $instance lists porthole: ${values.join(', ')}`);
        if (variable.name === 'namespace') assert.deepEqual(values, [NAMESPACE], `${file}: $namespace`);
      }
    }
  });

  it('every PromQL expression of every panel parses and returns data, with All and with one instance chosen', async () => {
    const prom = running(prometheus, 'prometheus');
    const choices: Array<Record<string, string>> = [
      { instance: '.*', namespace: '.*' },
      { instance: regexEscape(running(full, 'porthole').host), namespace: NAMESPACE },
    ];
    const empty: string[] = [];
    const queries = panelQueries(dashboards);
    assert.ok(queries.length > 60, `${queries.length} queries`);
    const endMs = Date.now();
    for (const values of choices) {
      for (const { file, panel, target } of queries) {
        const expr = substitute(target.expr, values, RATE_INTERVAL);
        let series: RangeSeries[];
        try {
          series = await queryRange(prom, expr, loadStartMs - 2000, endMs);
        } catch (err) {
          assert.fail(`${file}: ${panel.title} ${target.refId}: ${expr}: ${(err as Error).message}`);
        }
        const finite = series.some((one) => one.values.some(([, value]) => Number.isFinite(Number(value))));
        if (!finite) empty.push(`${file}: "${panel.title}" ${target.refId} (instance=${values.instance}): ${expr}`);
      }
    }
    assert.deepEqual(empty, [], 'panels that would show nothing');
  });

  it('the latency panel\'s exemplars are stored, each with the trace id Grafana links to Jaeger', async () => {
    const prom = running(prometheus, 'prometheus');
    const queries = panelQueries(dashboards).filter(({ target }) => target.exemplar === true);
    assert.ok(queries.length > 0);
    for (const { panel, target } of queries) {
      const exemplars = await prom.queryExemplars(substitute(target.expr, { instance: '.*', namespace: '.*' }, RATE_INTERVAL));
      assert.ok(exemplars.length > 0, `${panel.title} ${target.refId}: no exemplar`);
      for (const exemplar of exemplars) assert.match(exemplar.labels.trace_id ?? '', /^[0-9a-f]{32}$/);
    }
    const datasources = await readFile(join(OBSERVABILITY_DIR, 'grafana/provisioning/datasources/porthole.yaml'), 'utf8');
    const provisioned = parse(datasources) as { datasources: Array<{ uid: string; type: string; jsonData?: { exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid: string }> } }> };
    const prometheusSource = provisioned.datasources.find((one) => one.type === 'prometheus');
    const jaeger = provisioned.datasources.find((one) => one.type === 'jaeger');
    assert.deepEqual(prometheusSource?.jsonData?.exemplarTraceIdDestinations, [{ name: 'trace_id', datasourceUid: jaeger?.uid }]);
  });
});
