import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { OBSERVABILITY_DIR } from './dashboards.js';

/** observability/prometheus: the configuration and rules through promtool, and the rules' unit tests. */

const PROMETHEUS_DIR = join(OBSERVABILITY_DIR, 'prometheus');

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface RuleTests {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

/** promtool in `cwd` (rule_files are relative to the files named), bounded: 60 s. */
function promtool(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, output: `${stdout}${stderr}${err && code === null ? err.message : ''}` });
    });
  });
}

async function alertRules(): Promise<Rule[]> {
  const file = parse(await readFile(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as RuleFile;
  return file.groups.flatMap((group) => group.rules);
}

describe('observability/prometheus with promtool', { timeout: 120_000, skip: skipUnlessTools('promtool') }, () => {
  let work: string;
  before(async () => {
    work = await tempDir('alert-mutants');
  });
  after(async () => {
    await cleanup(work);
  });

  it('promtool check config: prometheus.yml and the rules it loads are valid', async () => {
    const { code, output } = await promtool(['check', 'config', 'prometheus.yml'], PROMETHEUS_DIR);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS: 1 rule files found/);
  });

  it('promtool check rules: alerts.yml is valid, and every alert has a for, a severity, a summary and a description', async () => {
    const { code, output } = await promtool(['check', 'rules', 'alerts.yml'], PROMETHEUS_DIR);
    assert.equal(code, 0, output);
    const rules = await alertRules();
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
    for (const rule of rules) {
      assert.ok(rule.alert, `only alerts: ${rule.expr}`);
      assert.match(rule.for ?? '', /^\d+[smhd]$/, `${rule.alert}: for`);
      assert.match(rule.labels?.severity ?? '', /^(critical|warning)$/, `${rule.alert}: severity`);
      assert.ok((rule.annotations?.summary ?? '').length > 10, `${rule.alert}: summary`);
      assert.ok((rule.annotations?.description ?? '').length > 40, `${rule.alert}: description`);
    }
  });

  it('the alerts the issue asks for are all there', async () => {
    const exprs = (await alertRules()).map((rule) => rule.expr).join('\n');
    for (const needed of [/up\{job="porthole"\} == 0/, /oci_registry_up == 0/, /up\{job=~"porthole-exporter\|oci-registry-exporter"\} == 0/, /code=~"5\.\."/, /histogram_quantile\(0\.99/, /source="cache"/, /predict_linear\(porthole_storage_filesystem_avail_bytes/, /porthole_job_fail == 1/, /porthole_job_last_success_timestamp_seconds/, /nodejs_eventloop_lag_p99_seconds/, /porthole_auth_attempts_total\{outcome=~"failure\|locked"\}/, /porthole_tls_certificate_expiry_timestamp_seconds - time\(\)/]) {
      assert.match(exprs, needed);
    }
  });

  it('promtool test rules: alerts.test.yml has a firing and a quiet case for every alert, and passes', async () => {
    const tests = parse(await readFile(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8')) as RuleTests;
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const rule of await alertRules()) {
      const own = cases.filter((one) => one.alertname === rule.alert);
      assert.ok(own.some((one) => (one.exp_alerts ?? []).length > 0), `${rule.alert}: a case where it fires`);
      assert.ok(own.some((one) => (one.exp_alerts ?? []).length === 0), `${rule.alert}: a case where it stays quiet`);
    }
    const { code, output } = await promtool(['test', 'rules', 'alerts.test.yml'], PROMETHEUS_DIR);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS/);
  });

  it('the rule tests catch an alert that never fires: each alert broken in turn fails them', async () => {
    const source = parse(await readFile(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as RuleFile;
    const tests = parse(await readFile(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8')) as RuleTests;
    const names = source.groups.flatMap((group) => group.rules.map((rule) => rule.alert as string));
    const survivors: string[] = [];
    // Two at a time: the machine has two cores.
    for (let start = 0; start < names.length; start += 2) {
      await Promise.all(
        names.slice(start, start + 2).map(async (name) => {
          const mutant = structuredClone(source);
          for (const rule of mutant.groups.flatMap((group) => group.rules)) if (rule.alert === name) rule.expr = 'vector(1) == 0';
          const dir = join(work, name);
          await mkdir(dir, { recursive: true });
          await writeFile(join(dir, 'alerts.yml'), stringify(mutant));
          // Only this alert's cases: the others would pass or fail alike, and take time.
          const own = tests.tests
            .map((test) => ({ ...test, alert_rule_test: (test.alert_rule_test ?? []).filter((one) => one.alertname === name) }))
            .filter((test) => test.alert_rule_test.length > 0);
          await writeFile(join(dir, 'alerts.test.yml'), stringify({ ...tests, rule_files: ['alerts.yml'], tests: own }));
          const { code, output } = await promtool(['test', 'rules', 'alerts.test.yml'], dir);
          if (code === 0) survivors.push(name);
          else assert.match(output, new RegExp(`alertname: ${name}, time`), `${name}: the failure names it`);
        }),
      );
    }
    assert.deepEqual(survivors, [], 'alerts whose breaking no test noticed');
  });
});
