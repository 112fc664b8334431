import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXPORTER_CLI } from './exporter-process.js';
import { logLines, type LogLine } from './log-lines.js';
import { Exposition } from './prometheus-text.js';
import { findLogLine, spawnService, waitForService, type ServiceProcess } from './service-process.js';

/**
 * porthole-exporter's API mode (`porthole-exporter api [flags]`) as an operator runs it: a
 * process that collects a registry's state in the background and serves the last result on
 * /metrics, started on 127.0.0.1 and a port of the kernel's choosing unless told otherwise.
 */
export interface ApiExporterProcess extends ServiceProcess {
  port: number;
  metricsUrl: string;
  /** One GET /metrics: the exposition text (throws unless 200). */
  scrapeText(): Promise<string>;
  /** One GET /metrics, parsed. */
  scrape(): Promise<Exposition>;
  /**
   * Scrapes (every 50 ms, bounded by `timeoutMs`) until `condition` holds for an exposition and
   * resolves with that exposition; the error names `what` and the last exposition.
   */
  scrapeUntil(what: string, condition: (exposition: Exposition) => boolean, timeoutMs?: number): Promise<Exposition>;
  /** Waits until `count` collections (any outcome) have ended, by oci_registry_collections_total. */
  collections(count: number, timeoutMs?: number): Promise<Exposition>;
  /** The exporter's JSON log lines so far (its stdout). */
  logLines(): LogLine[];
  /** VmRSS and VmHWM (peak) of the process from /proc/<pid>/status, in bytes. */
  memory(): Promise<{ rss: number; peak: number }>;
  /** Stops the exporter (SIGTERM; SIGKILL after 15 s). */
  dispose(): Promise<void>;
}

export interface ApiExporterStart {
  /** --connection-string; omitted to give it by env or file instead. */
  connectionString?: string;
  /** More flags (--interval 1s, --enable-tls=false...). --port 0 and --listen-address 127.0.0.1 come first unless `defaultListen` is false. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Whether to pass --port 0 --listen-address 127.0.0.1 (true when omitted). */
  defaultListen?: boolean;
}

/** The sample lines of an exposition (no HELP or TYPE), shortened for an error message. */
function samplesOf(text: string): string {
  const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  return lines.length > 150 ? [...lines.slice(0, 150), `... ${lines.length - 150} more`].join('\n') : lines.join('\n');
}

/** The total of oci_registry_collections_total over every outcome. */
export function collectionCount(exposition: Exposition): number {
  return exposition.sum('oci_registry_collections_total');
}

/** Starts `porthole-exporter api ...` and resolves once it logs "porthole-exporter listening" (bounded: 20 s). */
export async function startApiExporter(options: ApiExporterStart): Promise<ApiExporterProcess> {
  const args = [EXPORTER_CLI, 'api'];
  if (options.connectionString !== undefined) args.push('--connection-string', options.connectionString);
  if (options.defaultListen !== false) args.push('--port', '0', '--listen-address', '127.0.0.1');
  args.push(...(options.args ?? []));
  const service = spawnService(process.execPath, args, options.env);
  let port: number;
  try {
    const announcement = await waitForService(service, 'its "porthole-exporter listening" announcement', () => findLogLine(service.stdout(), 'porthole-exporter listening'));
    port = Number(announcement.port);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`"porthole-exporter listening" names no port: ${JSON.stringify(announcement)}`);
  } catch (err) {
    await service.stop();
    throw new Error(`porthole-exporter api ${(err as Error).message}`);
  }
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const scrapeText = async (): Promise<string> => {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`porthole-exporter answered ${response.status}: ${text.slice(0, 500)}`);
    return text;
  };
  const scrape = async (): Promise<Exposition> => new Exposition(await scrapeText());
  const scrapeUntil = async (what: string, condition: (exposition: Exposition) => boolean, timeoutMs = 20_000): Promise<Exposition> => {
    const deadline = Date.now() + timeoutMs;
    let last: Exposition | undefined;
    for (;;) {
      if (service.hasExited()) throw new Error(`porthole-exporter exited (${service.process.exitCode ?? service.process.signalCode}) while waiting for ${what}:\n${service.output().slice(-4000)}`);
      last = await scrape();
      if (condition(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last scrape (samples):\n${samplesOf(last.text)}\noutput:\n${service.output().slice(-3000)}`);
      await sleep(50);
    }
  };
  return {
    ...service,
    port,
    metricsUrl,
    scrapeText,
    scrape,
    scrapeUntil,
    collections: (count, timeoutMs = 30_000) => scrapeUntil(`${count} collection(s) to end`, (exposition) => collectionCount(exposition) >= count, timeoutMs),
    logLines: () => logLines(service.stdout()),
    async memory() {
      const status = await readFile(`/proc/${service.process.pid}/status`, 'utf8');
      const kb = (field: string): number => {
        const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
        if (!match) throw new Error(`no ${field} in /proc/${service.process.pid}/status`);
        return Number(match[1]) * 1024;
      };
      return { rss: kb('VmRSS'), peak: kb('VmHWM') };
    },
    async dispose() {
      await service.stop();
    },
  };
}
