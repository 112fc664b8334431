import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../config/config-error.js';

/** How porthole reaches the collector beyond its URL and headers: TLS material and compression. */
export interface CollectorTransport {
  /** For an https collector: a CA to trust besides the system's, and a client certificate. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  gzip: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A variable in its traces-only form when set, else its general form (as OpenTelemetry's SDKs read them). */
function variable(env: Env, suffix: string): { name: string; value: string } | undefined {
  for (const name of [`OTEL_EXPORTER_OTLP_TRACES_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`]) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

function pemFile(env: Env, suffix: string, problems: string[]): Buffer | undefined {
  const found = variable(env, suffix);
  if (found === undefined) return undefined;
  try {
    return readFileSync(found.value);
  } catch (err) {
    problems.push(`${found.name}: cannot read "${found.value}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
}

/**
 * The standard OTLP exporter variables that are about the connection, not porthole's config:
 * OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY (PEM files) and
 * _COMPRESSION (`gzip` or `none`), each also in a _TRACES_ form that wins. A file that cannot be
 * read, or another compression, stops start-up (ConfigError, exit 2) rather than leaving every
 * export to fail later.
 */
export function collectorTransport(env: Env): CollectorTransport {
  const problems: string[] = [];
  const ca = pemFile(env, 'CERTIFICATE', problems);
  const cert = pemFile(env, 'CLIENT_CERTIFICATE', problems);
  const key = pemFile(env, 'CLIENT_KEY', problems);
  if ((cert === undefined) !== (key === undefined) && problems.length === 0) {
    problems.push('OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY: a client certificate needs both');
  }
  const compression = variable(env, 'COMPRESSION');
  if (compression !== undefined && compression.value !== 'gzip' && compression.value !== 'none') {
    problems.push(`${compression.name}: "${compression.value}" is not gzip or none`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    tls: { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) },
    gzip: compression?.value === 'gzip',
  };
}
