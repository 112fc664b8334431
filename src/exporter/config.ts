import { z } from 'zod';
import { isDuration } from '../config/durations.js';
import { ConfigError, describeIssues, readConfigFile } from '../config/load.js';
import { LOG_LEVELS } from '../config/schema.js';

/**
 * porthole-exporter's config file (JSON or YAML), shaped like zot's zxp file so an operator who
 * knows zxp knows this one; credentials and a CA are what zxp users asked for and lacked.
 * Ports may be written as strings, as zxp's examples do.
 */
const port = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().min(0).max(65535));
const duration = (fallback: string) => z.string().refine(isDuration, { message: 'must be a duration such as 10s' }).default(fallback);

export const exporterConfigSchema = z
  .object({
    Server: z
      .object({
        protocol: z.enum(['http', 'https']).default('http'),
        // A host alone: "user:password@host" would put the password in every log line naming the target.
        host: z
          .string()
          .min(1)
          .refine((host) => !/[@/?#\s]/.test(host), { message: 'must be a host name or address alone; give credentials as Server.username and Server.password' })
          .default('127.0.0.1'),
        port: port.default(5000),
        /** Path of porthole's metrics snapshot (its extensions.metrics.prometheus.path). */
        path: z.string().startsWith('/').default('/metrics'),
        username: z.string().optional(),
        password: z.string().optional(),
        /** Name of an environment variable holding the password, to keep it out of the file. */
        passwordFromEnv: z.string().optional(),
        /** PEM file of the CA that signed porthole's certificate (https). */
        cacert: z.string().optional(),
        timeout: duration('10s'),
      })
      .strict()
      .prefault({}),
    Exporter: z
      .object({
        address: z.string().min(1).default('0.0.0.0'),
        port: port.default(5051),
        log: z
          .object({
            level: z.enum(LOG_LEVELS).default('info'),
            output: z.string().min(1).default('stdout'),
          })
          .strict()
          .prefault({}),
        metrics: z
          .object({ path: z.string().startsWith('/').default('/metrics') })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ExporterConfig = z.output<typeof exporterConfigSchema>;

export async function loadExporterConfig(file: string): Promise<ExporterConfig> {
  const raw = await readConfigFile(file);
  const result = exporterConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues, exporterConfigSchema));
  const { Server } = result.data;
  if (Server.passwordFromEnv !== undefined && process.env[Server.passwordFromEnv] === undefined) {
    throw new ConfigError([`Server.passwordFromEnv: environment variable ${Server.passwordFromEnv} is not set`]);
  }
  return result.data;
}
