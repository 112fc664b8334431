import { replicaIdOf } from '../config/replica-id.js';
import { storageFailure } from '../storage/storage-failure.js';
import { storageLocation } from '../create-storage.js';
import { buildApp } from '../app.js';
import { durationMs } from '../config/durations.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { fromEnvironment, type FromEnvironment } from '../config/environment.js';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { metricsSettings, type PortholeConfig } from '../config/schema.js';
import { createAuditor, disabledAuditor, type Auditor } from '../observability/audit.js';
import { LogFile, type LogFileOptions } from '../observability/log-files.js';
import { createLogger } from '../observability/logger.js';
import { requestsDone } from '../observability/request-done.js';
import { kernelIo } from '../native/kernel-io.js';
import { EXIT } from './exit-codes.js';
import { keyToBlame, type ListenerKeys } from './listen-failure.js';
import { settleWithin, STARTUP_TIMEOUT_VARIABLE, stepBoundOf, type StepBound } from './startup-bound.js';
import { startupDone } from './startup-memory.js';
import { tracingKillSwitch, tracingOverrides } from './tracing-options.js';

export interface ServeOptions {
  config?: string;
  address?: string;
  port?: string;
  root?: string;
  logLevel?: string;
  logOutput?: string;
  /** `--metrics` alone (true) or `--metrics PORT`. */
  metrics?: boolean | string;
  tracing?: boolean;
  tracingEndpoint?: string;
  samplingProb?: string;
}

/** The longest an uncaught exception waits for the log lines before porthole exits. */
const CRASH_FLUSH_MS = 5_000;

/** The server's own entries in the audit log. */
const SERVER_SUBJECT = 'porthole';

function listeningPort(address: string | AddressInfo | null, fallback: number): number {
  return typeof address === 'object' && address ? address.port : fallback;
}

function portFlag(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  // Passed on as text when not a number, so that the schema reports it against its key, with the
  // range a port takes.
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** `--metrics` turns full-mode metrics on; with a port, on their own listener (like ociregistry's flag). */
function metricsFlag(flag: boolean | string | undefined): Record<string, unknown> {
  if (flag === undefined || flag === false) return {};
  const enable = { 'extensions.metrics.enable': true };
  return flag === true ? enable : { ...enable, 'extensions.metrics.port': portFlag(flag) };
}

function refuseToStart(key: string, message: string): never {
  process.stderr.write(`porthole: ${key}: ${message}\n`);
  process.exit(EXIT.badConfig);
}

/** The configuration, and what the environment said of it (its ignored variables are logged once the log is open). */
async function readConfig(options: ServeOptions): Promise<{ config: PortholeConfig; environment: FromEnvironment }> {
  try {
    const environment = fromEnvironment(process.env);
    const config = await loadConfig(options.config, {
      'http.address': options.address,
      'http.port': portFlag(options.port),
      'storage.filesystem.rootDirectory': options.root,
      'log.level': options.logLevel,
      'log.output': options.logOutput,
      ...metricsFlag(options.metrics),
      ...tracingOverrides(options, process.env, environment),
    }, environment);
    return { config, environment };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`porthole: ${err.message}\n`);
    process.exit(EXIT.badConfig);
  }
}

/** Binds a listener, or stops start-up naming the key whose address or port cannot be used. */
async function listenOrRefuse(listener: FastifyInstance, keys: ListenerKeys, host: string, port: number): Promise<number> {
  try {
    await listener.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    refuseToStart(keyToBlame(code, keys), `cannot listen on ${host}:${port} (${code ?? String(err)})`);
  }
  return listeningPort(listener.server.address(), port);
}

/**
 * Waits for one start-up step, or stops start-up naming the key whose setting the step was working
 * on when it does not finish within the bound: a step that hangs (a recursive mkdir under /proc
 * used to, for ever) must not leave a process that neither serves nor says why.
 */
async function withinBound<T>(bound: StepBound, key: string, what: string, step: Promise<T>): Promise<T> {
  const settled = await settleWithin(step, bound.ms);
  if (!settled.finished) refuseToStart(key, `${what} did not finish within ${bound.text} (${STARTUP_TIMEOUT_VARIABLE} sets this bound)`);
  return settled.value;
}

async function openLogFile(key: string, path: string, options?: LogFileOptions): Promise<LogFile> {
  try {
    return await LogFile.open(path, options);
  } catch (err) {
    refuseToStart(key, `cannot open "${path}" for append (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** `porthole serve`: flags over file over defaults, listen, and shut down gracefully on a signal. */
export async function serve(options: ServeOptions): Promise<void> {
  const bound = stepBoundOf(process.env);
  if (typeof bound === 'string') {
    process.stderr.write(`porthole: ${bound}\n`);
    process.exit(EXIT.badConfig);
  }
  const step = <T>(key: string, what: string, promise: Promise<T>): Promise<T> => withinBound(bound, key, what, promise);
  const { config, environment } = await step(options.config ?? '--config', 'reading the configuration', readConfig(options));
  const logFile = await step('log.output', `opening "${config.log.output}"`, openLogFile('log.output', config.log.output));
  const audit = config.log.audit;
  // Unbuffered and synchronous: each security event is in the kernel before porthole goes on
  // (docs/logging.md, When lines are written).
  const auditFile = audit === null ? undefined : await step('log.audit', `opening "${audit}"`, openLogFile('log.audit', audit, { buffered: false }));
  // Every line names the replica, so that the logs of several can be told apart once gathered.
  const logger = createLogger(config.log, logFile.stream).child({ replica: replicaIdOf(config) });
  const log = logger.child({ module: 'server' });
  for (const { variable, suggestion } of environment.ignored) {
    log.warn({ variable, suggestion }, 'environment variable names no configuration key: ignored');
  }
  const killSwitch = tracingKillSwitch(process.env);
  if (killSwitch) log.info({ reason: killSwitch }, 'tracing is off: switched off by the environment, whatever the configuration says');
  const auditLog: Auditor = auditFile ? createAuditor(auditFile.stream) : disabledAuditor;
  const flushAll = () => Promise.all([logFile.flush(), auditFile?.flush()]);

  const storage = storageLocation(config);
  let app;
  try {
    app = await step(storage.key, `preparing storage in ${storage.where}`, buildApp(config, { logger, auditor: auditLog }));
  } catch (err) {
    if (err instanceof ConfigError) {
      // A configured feature that cannot start (an upstream's password variable, its CA file).
      process.stderr.write(`porthole: ${err.message}\n`);
      process.exit(EXIT.badConfig);
    }
    // Only a filesystem, network or S3 error is the storage's fault; anything else is a bug,
    // which must surface as one (exit 1, with its stack) rather than as a configuration problem.
    const reason = storageFailure(err);
    if (reason === undefined) throw err;
    refuseToStart(storage.key, `cannot use ${storage.where} (${reason})`);
  }
  // The app's auditor: the same log, with every event counted (porthole_audit_events_total).
  const { server, health, metricsListener, auditor, certificate } = app;
  const { address: host, port: wanted } = config.http;
  const port = await step('http.address', `binding ${host}:${wanted}`, listenOrRefuse(server, { address: 'http.address', port: 'http.port' }, host, wanted));
  // Every listener is bound before "porthole listening" is logged: whoever waits for that line
  // may connect to any of them at once, and a taken metrics port must fail before it is said.
  if (metricsListener) {
    const metrics = metricsSettings(config);
    const address = metrics.address ?? config.http.address;
    const keys = { address: metrics.address === null ? 'http.address' : 'extensions.metrics.address', port: 'extensions.metrics.port' };
    const metricsPort = await step(keys.address, `binding ${address}:${metrics.port ?? 0}`, listenOrRefuse(metricsListener, keys, address, metrics.port ?? 0));
    log.info({ address, port: metricsPort, path: metrics.prometheus.path }, 'metrics listening');
  }
  // TLS encrypts in user space, where sendfile(2) cannot reach: its downloads are always copied.
  const copyReason = !config.storage.filesystem.sendfile ? undefined : config.http.tls ? 'http.tls is set: TLS encrypts in user space, which sendfile cannot' : kernelIo().problem;
  if (copyReason) log.warn({ reason: copyReason }, 'blob downloads are copied through user space');
  const blobDownloads = config.storage.filesystem.sendfile && !copyReason ? 'sendfile' : 'copy';
  const scheme = config.http.tls ? 'https' : 'http';
  const where = config.storage.driver === 'filesystem' ? { root: config.storage.filesystem.rootDirectory } : { bucket: config.storage.s3?.bucket };
  log.info({ address: config.http.address, port, scheme, storage: config.storage.driver, ...where, blobDownloads }, 'porthole listening');
  startupDone();
  auditor.record({ action: 'server.start', outcome: 'success', subject: SERVER_SUBJECT, detail: `${config.http.address}:${port}` });

  // logrotate moves the files away, then sends SIGHUP: reopen them by path. A renewed TLS
  // certificate is announced the same way (certbot's and cert-manager's deploy hooks).
  process.on('SIGHUP', () => {
    logFile.reopen();
    auditFile?.reopen();
    log.info({ signal: 'SIGHUP' }, 'log files reopened');
    auditor.record({ action: 'log.reopen', outcome: 'success', subject: SERVER_SUBJECT, detail: 'SIGHUP' });
    certificate?.reload('SIGHUP');
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    health.drainingSince = Date.now();
    log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const deadline = setTimeout(() => {
      log.warn('shutdown timeout reached: closing remaining connections');
      server.server.closeAllConnections();
    }, durationMs(config.http.shutdownTimeout));
    deadline.unref();
    Promise.all([server.close(), metricsListener?.close()])
      .then(async () => {
        clearTimeout(deadline);
        await requestsDone(server, durationMs(config.http.shutdownTimeout));
        log.info('porthole stopped');
        auditor.record({ action: 'server.stop', outcome: 'success', subject: SERVER_SUBJECT, detail: signal });
        await flushAll();
        process.exit(EXIT.ok);
      })
      .catch(async (err: unknown) => {
        log.error({ err }, 'error while shutting down');
        auditor.record({ action: 'server.stop', outcome: 'failure', subject: SERVER_SUBJECT, detail: signal });
        await flushAll();
        process.exit(EXIT.failure);
      });
  };
  // A bug that escapes every handler: say so in the log (not only as a stack on stderr), then exit.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception: exiting');
    auditor.record({ action: 'server.stop', outcome: 'failure', subject: SERVER_SUBJECT, detail: 'uncaught exception' });
    // Bounded: a log that cannot be written (a stdout nobody reads) must not keep a broken
    // process alive. What is still waiting then is written synchronously by pino's exit hook.
    const bound = setTimeout(() => process.exit(EXIT.failure), CRASH_FLUSH_MS);
    void flushAll().finally(() => {
      clearTimeout(bound);
      process.exit(EXIT.failure);
    });
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
