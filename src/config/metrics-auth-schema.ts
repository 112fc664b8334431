import { z } from 'zod';

/**
 * Who may read the metrics endpoint (extensions.metrics.auth; docs/metrics.md): users of the
 * htpasswd file with HTTP Basic, and/or whoever holds a token kept in a file, sent as a bearer
 * token. These are the two credentials Prometheus can send on its own (basic_auth,
 * authorization.credentials_file). That `users` needs auth.htpasswd is checked with the whole
 * config (schema.ts).
 */
export const metricsAuthSchema = z
  .object({
    users: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Users of auth.htpasswd who may read the metrics with HTTP Basic (Prometheus basic_auth); another valid user gets 403. Needs auth.htpasswd.'),
    bearerTokenFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File holding a token that may read the metrics when sent as `Authorization: Bearer <token>` (Prometheus authorization.credentials_file); trimmed, compared in constant time, re-read when the file changes.',
      ),
  })
  .strict()
  .refine((auth) => auth.users !== undefined || auth.bearerTokenFile !== undefined, { message: 'give users, bearerTokenFile or both (without this block the metrics are open)' });

export type MetricsAuthConfig = z.output<typeof metricsAuthSchema>;
