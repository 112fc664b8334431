import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { exporterConfigSchema } from '../../src/exporter/config.js';
import { cleanup, tempDir } from './porthole-process.js';
import { findLogLine, spawnService, waitForService, type ServiceProcess } from './service-process.js';

/** The built porthole-exporter CLI, as a user runs it. */
export const EXPORTER_CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/exporter.js');

/** What a porthole-exporter config file holds (ports may be strings, as in zxp's examples). */
export type ExporterConfigInput = z.input<typeof exporterConfigSchema>;

export interface ExporterProcess extends ServiceProcess {
  port: number;
  /** The exporter's metrics URL (Exporter.metrics.path). */
  metricsUrl: string;
  /** One scrape of the exporter (which fetches porthole's snapshot): the exposition text. */
  scrape(): Promise<string>;
  /** Stops the exporter and removes its config file. */
  dispose(): Promise<void>;
}

export interface ExporterStart {
  config: ExporterConfigInput;
  /** More environment, for Server.passwordFromEnv and the PORTHOLE_EXPORTER_* variables. */
  env?: NodeJS.ProcessEnv;
  /** More flags after `config FILE` (--porthole-username...). */
  args?: string[];
}

/**
 * Starts `porthole-exporter config FILE` with `config` written as JSON, on 127.0.0.1 and a port
 * of the kernel's choosing unless the config says otherwise, logging to stdout; resolves once it
 * announces that it listens (bounded: 20 s).
 */
export async function startExporter(options: ExporterStart): Promise<ExporterProcess> {
  const dir = await tempDir('exporter');
  const file = join(dir, 'exporter.json');
  const exporter = options.config.Exporter ?? {};
  const config = { ...options.config, Exporter: { address: '127.0.0.1', port: 0, ...exporter, log: { output: 'stdout', ...exporter.log } } };
  await writeFile(file, JSON.stringify(config));
  const service = spawnService(process.execPath, [EXPORTER_CLI, 'config', file, ...(options.args ?? [])], options.env);
  const dispose = async (): Promise<void> => {
    await service.stop();
    await cleanup(dir);
  };
  let port: number;
  try {
    const announcement = await waitForService(service, 'its "porthole-exporter listening" announcement', () => findLogLine(service.stdout(), 'porthole-exporter listening'));
    port = Number(announcement.port);
  } catch (err) {
    await dispose();
    throw new Error(`porthole-exporter ${(err as Error).message}`);
  }
  const metricsUrl = `http://127.0.0.1:${port}${exporter.metrics?.path ?? '/metrics'}`;
  return {
    ...service,
    port,
    metricsUrl,
    dispose,
    async scrape() {
      const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(15_000) });
      if (response.status !== 200) throw new Error(`porthole-exporter answered ${response.status}: ${await response.text()}`);
      return response.text();
    },
  };
}
