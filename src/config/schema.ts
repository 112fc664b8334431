import { z } from 'zod';
import { duration } from './duration-field.js';
import { proxySchema } from './proxy-schema.js';
import { tracingSchema } from './tracing-schema.js';
import { jobsSchema } from './jobs-schema.js';
import { accessControlSchema, authSchema } from './auth-schema.js';
import { metricsAuthSchema } from './metrics-auth-schema.js';
import { storageSchema } from './storage-schema.js';
import { redisSchema } from './redis-schema.js';

/**
 * The one configuration schema. Every key has a default and a one-line description;
 * docs/config.md is rendered from this file (`npm run docs:config`) and a test keeps them in step.
 * Objects are strict so that a misspelt key is reported instead of silently ignored.
 */

export const LOG_LEVELS = ['panic', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

/** HTTPS on the main listener, and mutual TLS (docs/tls.md). */
const tlsSchema = z
  .object({
    certificate: z
      .string()
      .min(1)
      .describe('PEM file of the server certificate, followed by its intermediate CA certificates if any; re-read on SIGHUP and when it changes.'),
    key: z.string().min(1).describe('PEM file of the unencrypted private key of the certificate; re-read with it.'),
    clientCA: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PEM file of the CA certificates that sign client certificates: clients are asked for one (mutual TLS), and a verified one authenticates as its subject CN (else its first DNS or email SAN). Absent: no client certificates.',
      ),
    clientAuth: z
      .enum(['optional', 'required'])
      .optional()
      .describe('Only with clientCA. optional (the default): a connection without a client certificate goes on anonymously; required: the TLS handshake refuses it.'),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('The oldest TLS version accepted: TLSv1.2 or TLSv1.3.'),
  })
  .strict()
  .superRefine((tls, context) => {
    if (tls.clientAuth !== undefined && tls.clientCA === undefined) {
      context.addIssue({ code: 'custom', path: ['clientAuth'], message: 'needs http.tls.clientCA, the CA that client certificates are verified against' });
    }
  });

export type TlsConfig = z.output<typeof tlsSchema>;

const httpSchema = z
  .object({
    address: z.string().min(1).default('127.0.0.1').describe('Address to listen on; 0.0.0.0 for every interface.'),
    port: z.number().int().min(0).max(65535).default(5000).describe('TCP port to listen on; 0 picks a free one.'),
    shutdownTimeout: duration('30s', 'How long a graceful shutdown waits for requests in flight before closing them.'),
    tls: tlsSchema.optional().describe('Serve HTTPS instead of plain HTTP, on the same address and port (see docs/tls.md). Absent: plain HTTP.'),
  })
  .strict()
  .prefault({})
  .describe('The HTTP listener.');

const logSchema = z
  .object({
    level: z.enum(LOG_LEVELS).default('info').describe('Lowest level written: panic, fatal, error, warn, info, debug or trace.'),
    output: z.string().min(1).default('stdout').describe('Where log lines go: stdout, stderr or a file path (opened for append, mode 0600).'),
    audit: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('File path of the audit log (JSON lines, append, mode 0600); no audit log when null.'),
  })
  .strict()
  .prefault({})
  .describe('Logging.');

export const metricsSchema = z
  .object({
    enable: z
      .boolean()
      .default(true)
      .describe('Serve Prometheus metrics (full mode); false keeps the minimal mode, a JSON snapshot for porthole-exporter.'),
    prometheus: z
      .object({
        path: z
          .string()
          .regex(/^\/[A-Za-z0-9._~\/-]*$/, { message: 'must be a URL path such as /metrics' })
          .refine((path) => path !== '/v2' && !path.startsWith('/v2/'), { message: 'must not be under /v2, which belongs to the registry API' })
          .default('/metrics')
          .describe('Path of the metrics (full mode: Prometheus text; minimal mode: the JSON snapshot).'),
      })
      .strict()
      .prefault({})
      .describe('The Prometheus endpoint.'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .nullable()
      .default(null)
      .describe('Serve full-mode metrics on their own listener on this port; null serves them on the main listener.'),
    address: z.string().min(1).nullable().default(null).describe('Address of the separate metrics listener; null uses http.address.'),
    auth: metricsAuthSchema
      .optional()
      .describe('Who may read the metrics, in either mode and on either listener (see docs/metrics.md); health endpoints stay open. Absent: anyone who reaches the endpoint.'),
    reportingInterval: duration('15s', 'How often the gauges that need a walk of storage (sizes, counts) are recomputed.'),
    maxRepoLabels: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('Distinct repository label values per metric; repositories past it are counted under repo="_other".'),
    minimal: z
      .object({
        checkInterval: duration('30s', 'Minimal mode: how often porthole checks whether an exporter still scrapes.'),
        idleTimeout: duration('2m', 'Minimal mode: collection stops when nothing has scraped the snapshot for this long.'),
      })
      .strict()
      .prefault({})
      .describe('Minimal mode (metrics absent or enable: false): collection switched on by scrapes.'),
  })
  .strict();

const extensionsSchema = z
  .object({
    metrics: metricsSchema
      .optional()
      .describe('Prometheus metrics. Absent: minimal mode (a JSON snapshot at /metrics, collected only while porthole-exporter scrapes).'),
    ui: z
      .object({
        enable: z
          .boolean()
          .default(true)
          .describe('Serve the built-in web dashboard at /ui/ and its figures at GET /api/v1/series (docs/ui.md), behind the management API\'s auth; false: neither route exists and none of its code is loaded.'),
      })
      .strict()
      .prefault({})
      .describe('The built-in web dashboard (docs/ui.md).'),
  })
  .strict()
  .prefault({})
  .describe('Optional features.');

export const configSchema = z
  .object({
    http: httpSchema,
    auth: authSchema,
    accessControl: accessControlSchema,
    storage: storageSchema,
    log: logSchema,
    extensions: extensionsSchema,
    proxy: proxySchema.optional().describe('Pull-through cache of upstream registries (see docs/proxy.md). Absent: porthole hosts only what is pushed to it.'),
    tracing: tracingSchema,
    jobs: jobsSchema,
    redis: redisSchema.optional(),
    replicaId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, { message: 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"' })
      .optional()
      .describe('This replica\'s name in its metrics, logs, spans and the replica list; absent: the host name and the HTTP port (host:port), so that two replicas on one host differ.'),
  })
  .strict()
  .superRefine((config, context) => {
    // Several replicas on one bucket without shared locks would corrupt each other's work.
    if (config.storage.driver === 's3' && config.redis === undefined && config.storage.s3?.singleReplica !== true) {
      context.addIssue({
        code: 'custom',
        path: ['redis'],
        message: 'storage.driver is s3: set redis (the locks several replicas share), or storage.s3.singleReplica: true when only this porthole serves the bucket',
      });
    }
    // Across sections: the metrics' users are checked against the registry's htpasswd file.
    if (config.extensions.metrics?.auth?.users !== undefined && config.auth?.htpasswd === undefined) {
      context.addIssue({ code: 'custom', path: ['extensions', 'metrics', 'auth', 'users'], message: 'needs auth.htpasswd, the file these users are checked against' });
    }
  });

export type PortholeConfig = z.output<typeof configSchema>;
export type MetricsConfig = z.output<typeof metricsSchema>;

/** The metrics settings in force: the block when present (enable defaulting to true), else minimal mode. */
export function metricsSettings(config: PortholeConfig): MetricsConfig {
  return config.extensions.metrics ?? { ...metricsSchema.parse({}), enable: false };
}
export type PortholeConfigInput = z.input<typeof configSchema>;
