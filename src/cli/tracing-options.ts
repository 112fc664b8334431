import { ConfigError } from '../config/load.js';
import type { FromEnvironment } from '../config/environment.js';
import { isHttpUrl } from '../config/url-fields.js';
import { redactedUrl } from '../observability/redact.js';

// Where tracing settings come from besides the config file, in order of precedence: flags, then
// porthole's own variables (PORTHOLE_TRACING_*), then the standard OpenTelemetry environment
// variables, then the file, then the defaults. Two
// variables are a kill switch above all of them (OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none),
// as the OpenTelemetry specification has every SDK honour them. docs/tracing.md lists them.

/** The tracing flags of `porthole serve`. */
export interface TracingFlags {
  tracing?: boolean;
  tracingEndpoint?: string;
  samplingProb?: string;
}

type Overrides = Record<string, unknown>;

/** `key1=value1,key2=value2`, values percent-encoded (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
export function parseKeyValueList(text: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of text.split(',')) {
    const at = item.indexOf('=');
    if (at <= 0) continue;
    const key = item.slice(0, at).trim();
    const raw = item.slice(at + 1).trim();
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // A value that is not valid percent-encoding is taken as written.
    }
    if (key !== '') pairs[key] = value;
  }
  return pairs;
}

/** The variable that switches tracing off whatever else says, if one does. */
export function tracingKillSwitch(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return 'OTEL_SDK_DISABLED=true';
  const exporters = env.OTEL_TRACES_EXPORTER?.split(',').map((name) => name.trim().toLowerCase());
  if (exporters !== undefined && exporters.length === 1 && exporters[0] === 'none') return 'OTEL_TRACES_EXPORTER=none';
  return undefined;
}

/** An endpoint variable's value, refused with the variable named (the schema would name tracing.endpoint). */
function endpointFrom(variable: string, value: string): string {
  if (isHttpUrl(value)) return value;
  throw new ConfigError([`${variable}: "${redactedUrl(value.slice(0, 200))}" is not an http:// or https:// URL (unset it, or set OTEL_SDK_DISABLED=true)`]);
}

/** The OTEL_* variables porthole honours, as overrides of config keys. */
export function tracingEnvOverrides(env: NodeJS.ProcessEnv): Overrides {
  const overrides: Overrides = {};
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const baseEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // The signal-specific variable is the URL itself; the general one is a base that each signal's path is appended to.
  if (tracesEndpoint) overrides['tracing.endpoint'] = endpointFrom('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint);
  else if (baseEndpoint) overrides['tracing.endpoint'] = `${endpointFrom('OTEL_EXPORTER_OTLP_ENDPOINT', baseEndpoint).replace(/\/+$/, '')}/v1/traces`;
  const attributes = env.OTEL_RESOURCE_ATTRIBUTES ? parseKeyValueList(env.OTEL_RESOURCE_ATTRIBUTES) : undefined;
  if (attributes) overrides['tracing.attributes'] = attributes;
  // As the OpenTelemetry specification has it: OTEL_SERVICE_NAME, else a service.name among the
  // resource attributes, names the service.
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || attributes?.['service.name'];
  if (serviceName) overrides['tracing.serviceName'] = serviceName;
  const headers = env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS;
  if (headers) overrides['tracing.headers'] = parseKeyValueList(headers);
  return overrides;
}

/** `--tracing`, `--tracing-endpoint URL`, `--sampling-prob P`, as overrides of config keys. */
export function tracingFlagOverrides(flags: TracingFlags): Overrides {
  const overrides: Overrides = {};
  if (flags.tracing) overrides['tracing.enable'] = true;
  if (flags.tracingEndpoint !== undefined) overrides['tracing.endpoint'] = flags.tracingEndpoint;
  if (flags.samplingProb !== undefined) {
    // Passed on as text when not a number, so that the schema reports it against tracing.samplingProb.
    const text = flags.samplingProb.trim();
    overrides['tracing.samplingProb'] = /^(\d+(\.\d*)?|\.\d+)(e-?\d+)?$/i.test(text) ? Number(text) : text;
  }
  return overrides;
}

/**
 * Every tracing override, in precedence order (later wins). The kill switch overrides all: with
 * it, tracing is off and no other tracing variable or flag is even read (a bad one cannot stop
 * porthole from starting).
 */
export function tracingOverrides(flags: TracingFlags, env: NodeJS.ProcessEnv, environment?: FromEnvironment): Overrides {
  if (tracingKillSwitch(env)) return { 'tracing.enable': false };
  // porthole's own variable for a key (PORTHOLE_TRACING_ENDPOINT) is the more specific, and wins.
  const standard = Object.entries(tracingEnvOverrides(env)).filter(([key]) => !environment?.variables.has(key));
  return { ...Object.fromEntries(standard), ...tracingFlagOverrides(flags) };
}
