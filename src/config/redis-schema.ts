import { z } from 'zod';

export const redisSchema = z
  .object({
    url: z
      .url({ protocol: /^rediss?$/ })
      .describe('redis://[user:password@]host:port[/db], or rediss:// for TLS. A password may instead come from the REDIS_PASSWORD variable.'),
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._:-]*$/, { message: 'must be letters, digits, ".", "_", ":" or "-"' })
      .default('porthole:')
      .describe('Prepended to every key porthole uses, so that one Redis can serve several registries.'),
  })
  .strict()
  .describe(
    'Redis, which several replicas on one S3 bucket share (docs/scale-out.md): upload and job locks, single-flight of pull-through downloads, upstream tokens, failed-login counters, the storage gauges\' walk. Absent: all of it lives in this process.',
  );

export type RedisConfig = z.output<typeof redisSchema>;
