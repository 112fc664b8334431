import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createMetricsRegistry } from '../../src/observability/metrics/catalogue.js';
import { NO_CACHES } from '../../src/storage/types.js';

/** The exporter's own metrics, declared in src/exporter/exporter-app.ts. */
const EXPORTER_METRICS = ['porthole_up', 'porthole_exporter_scrape_duration_seconds', 'porthole_exporter_scrape_errors_total'];

describe('docs/metrics.md', () => {
  it('documents every metric porthole and porthole-exporter expose', async () => {
    const docs = await readFile(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    const { registry } = createMetricsRegistry({ cacheStats: () => NO_CACHES, requestsInFlight: () => ({ read: 0, write: 0 }) });
    const names = [...(await registry.getMetricsAsJSON()).map((metric) => metric.name), ...EXPORTER_METRICS];
    const missing = names.filter((name) => !docs.includes(`\`${name}\``));
    assert.deepEqual(missing, []);
  });
});
