import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allPanels, documentedMetrics, familyOf, loadDashboards, metricNames, panelQueries, PROMETHEUS_OWN, substitute, variableQuery } from './dashboards.js';

/**
 * The Grafana dashboards' JSON, as Grafana's provisioning loads it (Grafana itself cannot be
 * installed here: no Debian package, no container engine). What Grafana would show is checked
 * against a real Prometheus in live-stack.test.ts.
 */

describe('the PromQL metric-name reader the dashboard checks rely on', () => {
  it('finds metric names and leaves out functions, labels, grouping, ranges, strings and variables', () => {
    assert.deepEqual(
      metricNames('histogram_quantile(0.99, sum by (route, le) (rate(porthole_http_request_duration_seconds_bucket{instance=~"$instance",route!~"a|b"}[$__rate_interval])))'),
      ['porthole_http_request_duration_seconds_bucket'],
    );
    assert.deepEqual(
      metricNames('sum by (instance) (rate(a_total{code=~"5.."}[5m]) or 0 * rate(b_total[5m])) / on (instance) group_left c_bytes > bool 1e3'),
      ['a_total', 'b_total', 'c_bytes'],
    );
    assert.deepEqual(metricNames('time() - process_start_time_seconds offset 5m'), ['process_start_time_seconds']);
    assert.deepEqual(familyOf('nodejs_gc_duration_seconds_sum'), ['nodejs_gc_duration_seconds_sum', 'nodejs_gc_duration_seconds']);
  });

  it('substitutes variables as Grafana does, and refuses one it has no value for', () => {
    assert.equal(substitute('rate(x{instance=~"$instance",namespace=~"${namespace}"}[$__rate_interval])', { instance: '.*', namespace: 'up' }, '10s'), 'rate(x{instance=~".*",namespace=~"up"}[10s])');
    assert.throws(() => substitute('x{a="$nope"}', {}, '1m'), /\$nope/);
  });
});

describe('Grafana dashboards: runtime.json and registry.json', () => {
  it('are provisioning JSON of a current schema, with a datasource variable and label_values variables', async () => {
    for (const { file, dashboard } of await loadDashboards()) {
      assert.equal(dashboard.__inputs, undefined, `${file}: __inputs is for import, not for provisioning`);
      assert.ok(dashboard.schemaVersion >= 38 && dashboard.schemaVersion <= 41, `${file}: schemaVersion ${dashboard.schemaVersion} is not Grafana 10/11's`);
      assert.match(dashboard.uid, /^porthole-/, file);
      const variables = new Map(dashboard.templating.list.map((variable) => [variable.name, variable]));
      const datasource = variables.get('datasource');
      assert.equal(datasource?.type, 'datasource', `${file}: a datasource variable`);
      assert.equal(datasource?.query, 'prometheus', `${file}: of Prometheus data sources`);
      const expected = file === 'registry.json' ? ['instance', 'namespace'] : ['instance'];
      for (const name of expected) {
        const variable = variables.get(name);
        assert.equal(variable?.type, 'query', `${file}: a query variable ${name}`);
        assert.match(variableQuery(variable) ?? '', new RegExp(`^label_values\\([a-z_:]+, ${name}\\)$`), `${file}: ${name} from label_values`);
        assert.equal(variable?.includeAll, true, `${file}: ${name} offers All`);
        assert.equal(variable?.allValue, '.*', `${file}: ${name}'s All is a regex for =~`);
      }
    }
  });

  it('have unique panel ids, a place on the grid that no other panel takes, and a description on every panel', async () => {
    for (const { file, dashboard } of await loadDashboards()) {
      const panels = allPanels(dashboard);
      const ids = panels.map((panel) => panel.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids ${ids.filter((id, index) => ids.indexOf(id) !== index).join(', ')}`);
      const taken = new Map<string, string>();
      for (const panel of panels) {
        const { x, y, w, h } = panel.gridPos;
        assert.ok(Number.isInteger(x) && Number.isInteger(y) && w > 0 && h > 0 && x + w <= 24, `${file}: ${panel.title}: gridPos ${JSON.stringify(panel.gridPos)}`);
        for (let column = x; column < x + w; column++) {
          for (let line = y; line < y + h; line++) {
            const other = taken.get(`${column},${line}`);
            assert.equal(other, undefined, `${file}: ${panel.title} overlaps ${other}`);
            taken.set(`${column},${line}`, panel.title);
          }
        }
        if (panel.type === 'row') continue;
        assert.ok((panel.description ?? '').length > 40, `${file}: ${panel.title} says what to look at`);
        assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, `${file}: ${panel.title} uses the datasource variable`);
        assert.ok((panel.targets ?? []).length > 0, `${file}: ${panel.title} has queries`);
        for (const target of panel.targets ?? []) assert.equal(target.datasource?.uid, '${datasource}', `${file}: ${panel.title} ${target.refId}`);
      }
    }
  });

  it('name only metrics documented in docs/metrics.md or docs/exporter.md', async () => {
    const documented = await documentedMetrics();
    const undocumented: string[] = [];
    const queries = panelQueries(await loadDashboards());
    for (const { file, panel, target } of queries) {
      const names = metricNames(target.expr);
      assert.ok(names.length > 0, `${file}: ${panel.title} ${target.refId} reads no metric: ${target.expr}`);
      for (const name of names) {
        if (!PROMETHEUS_OWN.has(name) && !familyOf(name).some((family) => documented.has(family))) undocumented.push(`${file}: ${panel.title}: ${name}`);
      }
    }
    assert.deepEqual(undocumented, []);
    // The check can fail: a name that is documented nowhere is caught.
    assert.ok(!familyOf('porthole_not_a_metric_total').some((family) => documented.has(family)));
  });

  it('link latency to traces: the request latency panel asks for exemplars', async () => {
    const queries = panelQueries(await loadDashboards()).filter(({ target }) => target.exemplar === true);
    assert.ok(queries.length > 0, 'some query asks for exemplars');
    for (const { panel, target } of queries) assert.match(target.expr, /porthole_http_request_duration_seconds_bucket/, `${panel.title}: exemplars exist only on the request latency histogram`);
  });
});
