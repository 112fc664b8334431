import { z } from 'zod';
import { duration } from './duration-field.js';
import { durationMs } from './durations.js';
import { hasUserinfo } from './url-fields.js';


/**
 * A namespace is what clients name a registry by: a host name, with a port when it has one
 * (`docker.io`, `ghcr.io`, `localhost:5001`), as containerd sends it in `?ns=`.
 */
export const NAMESPACE_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?$/;

const upstreamSchema = z
  .object({
    name: z
      .string()
      .regex(NAMESPACE_PATTERN, { message: 'must be a registry host name such as docker.io or localhost:5001 (lower case)' })
      .describe('The namespace clients ask for (`?ns=<name>` or the first path component), e.g. docker.io.'),
    url: z
      .string()
      .refine((text) => /^https?:\/\/[^/]+\/?$/.test(text) && URL.canParse(text), { message: 'must be an http:// or https:// URL of a registry host, without a path' })
      // Credentials in a URL end up wherever the URL is shown (logs, metrics, errors); the
      // message never repeats the value.
      .refine((text) => !hasUserinfo(text), {
        message: 'must not hold a user name or password ("https://user:password@host"): give them as auth.username and auth.password (or auth.passwordFromEnv) of this upstream',
      })
      .describe('Base URL of the upstream registry, e.g. https://registry-1.docker.io. No credentials in it: they go in `auth`.'),
    auth: z
      .object({
        username: z.string().min(1).describe('User name for basic auth, or for the token endpoint of a bearer challenge.'),
        password: z.string().optional().describe('Password (or token) for that user.'),
        passwordFromEnv: z.string().min(1).optional().describe('Name of an environment variable holding the password, instead of `password`.'),
      })
      .strict()
      .refine((auth) => auth.password === undefined || auth.passwordFromEnv === undefined, { message: 'give password or passwordFromEnv, not both' })
      .optional()
      .describe('Credentials for the upstream; anonymous when absent.'),
    tls: z
      .object({
        ca: z.string().min(1).optional().describe('PEM file of the CA that signed the upstream certificate.'),
        cert: z.string().min(1).optional().describe('PEM file of a client certificate, for upstreams that require one.'),
        key: z.string().min(1).optional().describe('PEM file of that certificate key.'),
        insecureSkipVerify: z.boolean().default(false).describe('Accept any upstream certificate. For tests only.'),
      })
      .strict()
      .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), { message: 'cert and key go together' })
      .optional()
      .describe('TLS settings for an https upstream.'),
    timeout: duration('30s', 'Longest wait for the upstream to connect, to answer, or to send the next bytes of a body.'),
    unavailableRetry: duration('1s', 'After a request to the upstream times out, cannot connect or gets a 5xx, how long porthole leaves it alone (cache only) before one probe request; doubled after each failed probe.'),
    unavailableRetryMax: duration('60s', 'The longest unavailableRetry grows to.'),
  })
  .strict()
  .superRefine((upstream, context) => {
    if (durationMs(upstream.unavailableRetryMax) < durationMs(upstream.unavailableRetry)) {
      context.addIssue({ code: 'custom', path: ['unavailableRetryMax'], message: `must be at least unavailableRetry (${upstream.unavailableRetry})` });
    }
  });

export const pruneSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Prune the cache on a schedule.'),
    olderThan: duration('30d', 'Cached images not pulled (by: accessed) or not fetched (by: created) for this long are removed.'),
    by: z.enum(['accessed', 'created']).default('accessed').describe('Age by last pull (accessed) or by when it was first cached (created).'),
    every: duration('1d', 'How often the scheduled prune runs.'),
    dryRun: z.boolean().default(false).describe('Log and count what would be removed, remove nothing.'),
  })
  .strict()
  .prefault({})
  .describe('Removal of cached images nobody pulls any more.');

export const proxySchema = z
  .object({
    upstreams: z.array(upstreamSchema).min(1).describe('The upstream registries, one per namespace.'),
    defaultNamespace: z
      .string()
      .nullable()
      .default(null)
      .describe('Namespace of requests that name none, for names with no hosted repository; null: such requests are hosted ones.'),
    airGapped: z.boolean().default(false).describe('Never contact an upstream: serve only what is cached.'),
    alwaysPullLatest: z.boolean().default(false).describe('Check the `latest` tag upstream on every pull, whatever tagTtl says.'),
    tagTtl: duration('10m', 'How long a cached tag is trusted before it is checked upstream again.'),
    prune: pruneSchema,
  })
  .strict()
  .superRefine((proxy, context) => {
    const seen = new Set<string>();
    proxy.upstreams.forEach((upstream, index) => {
      if (seen.has(upstream.name)) context.addIssue({ code: 'custom', path: ['upstreams', index, 'name'], message: `"${upstream.name}" is named twice` });
      seen.add(upstream.name);
    });
    if (proxy.defaultNamespace !== null && !seen.has(proxy.defaultNamespace)) {
      context.addIssue({ code: 'custom', path: ['defaultNamespace'], message: `"${proxy.defaultNamespace}" is not the name of an upstream` });
    }
  });

export type ProxyConfig = z.output<typeof proxySchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type PruneConfig = z.output<typeof pruneSchema>;
