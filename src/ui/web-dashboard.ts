import type { FastifyInstance } from 'fastify';
import type { AccessGate } from '../auth/access-gate.js';
import type { MetricsAuth } from '../auth/metrics-auth.js';
import type { PortholeConfig } from '../config/schema.js';
import type { SeriesResponse } from '../management/api-types.js';
import { ManagementAuth } from '../management/management-auth.js';
import type { Auditor } from '../observability/audit.js';
import type { PortholeLogger } from '../observability/logger.js';
import { SeriesSampler, type SeriesSources } from './series-sampler.js';
import { loadUiAssets } from './ui-assets.js';
import { uiRoutes } from './ui-plugin.js';

export interface WebDashboardDeps {
  config: PortholeConfig;
  sources: SeriesSources;
  log: PortholeLogger;
}

export interface AuthDeps {
  access: AccessGate | undefined;
  metricsAuth: MetricsAuth | undefined;
  auditor: Auditor;
}

/** What the composition root wires: the sampled figures for GET /api/v1/series, and the /ui/ routes. */
export interface WebDashboard {
  series(): SeriesResponse;
  install(server: FastifyInstance, auth: AuthDeps): Promise<void>;
}

/**
 * The built-in web dashboard (docs/ui.md), loaded by the composition root only with
 * extensions.ui.enable: its files read into memory (start-up stops if they were not built) and
 * its sampler started; both stop with the server.
 */
export async function createWebDashboard(deps: WebDashboardDeps): Promise<WebDashboard> {
  const assets = await loadUiAssets();
  const sampler = new SeriesSampler(deps.sources);
  await sampler.start((err) => deps.log.error({ err }, 'dashboard sampling failed'));
  deps.log.debug({ bytes: assets.totalBytes, gzipBytes: assets.totalGzipBytes, version: assets.version }, 'dashboard ready at /ui/');
  const htpasswd = deps.config.auth?.htpasswd !== undefined;
  return {
    series: () => sampler.snapshot(),
    async install(server, { access, metricsAuth, auditor }) {
      server.addHook('onClose', async () => sampler.stop());
      const auth = new ManagementAuth(access, metricsAuth, auditor);
      await server.register(async (scope) => uiRoutes(scope, { assets, auth, basicRealm: htpasswd ? (deps.config.auth?.realm ?? 'porthole') : undefined }));
    },
  };
}
