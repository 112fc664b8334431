import { z } from 'zod';
import { isDuration } from '../config/durations.js';
import { ConfigError, describeIssues, readConfigFile } from '../config/load.js';
import { LOG_LEVELS } from '../config/schema.js';
import { readSecretFile, secretFileProblem } from '../config/secret-file.js';

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
        /** A file holding the password (trimmed, as Prometheus' password_file), read on every fetch so that it can be rotated. */
        passwordFile: z.string().min(1).optional(),
        /** A file holding a token sent as `Authorization: Bearer` (porthole's extensions.metrics.auth.bearerTokenFile), read on every fetch. */
        bearerTokenFile: z.string().min(1).optional(),
        /** PEM file of the CA that signed porthole's certificate (https). */
        cacert: z.string().optional(),
        timeout: duration('10s'),
      })
      .strict()
      .superRefine((server, context) => {
        const passwords = (['password', 'passwordFromEnv', 'passwordFile'] as const).filter((key) => server[key] !== undefined);
        if (passwords.length > 1) context.addIssue({ code: 'custom', path: [passwords[1] as string], message: `give one of password, passwordFromEnv and passwordFile, not ${passwords.join(' and ')}` });
        if (passwords.length > 0 && server.username === undefined) context.addIssue({ code: 'custom', path: [passwords[0] as string], message: 'needs Server.username' });
        if (server.bearerTokenFile !== undefined && server.username !== undefined) {
          context.addIssue({ code: 'custom', path: ['bearerTokenFile'], message: 'give Basic credentials (Server.username) or a bearer token, not both' });
        }
      })
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

/** The credentials porthole-exporter sends, as flags (or their environment variables) give them. */
export interface CredentialFlags {
  username?: string | undefined;
  passwordFile?: string | undefined;
  bearerTokenFile?: string | undefined;
}

const CREDENTIAL_KEYS = ['username', 'password', 'passwordFromEnv', 'passwordFile', 'bearerTokenFile'] as const;

/**
 * Credentials given as flags replace the file's as a whole (a password file given on the command
 * line must not meet the file's `password`); without any, the file's stand.
 */
function withCredentialFlags(raw: unknown, flags: CredentialFlags): unknown {
  const given = Object.entries(flags).filter(([, value]) => value !== undefined);
  if (given.length === 0) return raw;
  const { Server, ...rest } = raw as { Server?: unknown };
  // A Server that is not a section is left for the schema to name.
  if (Server !== undefined && (typeof Server !== 'object' || Server === null || Array.isArray(Server))) return raw;
  const server: Record<string, unknown> = { ...Server };
  for (const key of CREDENTIAL_KEYS) delete server[key];
  return { ...rest, Server: { ...server, ...Object.fromEntries(given) } };
}

/** Checks, at start-up, that the files the credentials are read from can be read (they are read again on every fetch). */
function checkSecretFiles(server: ExporterConfig['Server']): string[] {
  return (['passwordFile', 'bearerTokenFile'] as const).flatMap((key) => {
    const path = server[key];
    if (path === undefined) return [];
    try {
      readSecretFile(path);
      return [];
    } catch (err) {
      return [`Server.${key}: ${secretFileProblem(path, err)}`];
    }
  });
}

export async function loadExporterConfig(file: string, flags: CredentialFlags = {}): Promise<ExporterConfig> {
  const raw = withCredentialFlags(await readConfigFile(file), flags);
  const result = exporterConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues, exporterConfigSchema));
  const { Server } = result.data;
  if (Server.passwordFromEnv !== undefined && process.env[Server.passwordFromEnv] === undefined) {
    throw new ConfigError([`Server.passwordFromEnv: environment variable ${Server.passwordFromEnv} is not set`]);
  }
  const problems = checkSecretFiles(Server);
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data;
}
