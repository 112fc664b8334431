import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../test/helpers/free-port.js';
import { cleanup, tempDir } from '../../test/helpers/porthole-process.js';
import { spawnService, waitForService } from '../../test/helpers/service-process.js';

/** The reference registry: CNCF distribution as Debian packages it (`docker-registry`, 2.8.2). */
export interface DistributionProcess {
  url: string;
  /** host:port, as skopeo wants it. */
  host: string;
  root: string;
  process: ChildProcess;
  /** Where its Prometheus metrics are served (the debug listener). */
  metricsUrl: string;
  output(): string;
  /** Stops it (SIGTERM, SIGKILL after 15 s) and removes its storage and configuration. */
  dispose(): Promise<void>;
}

/**
 * docker-registry's configuration, equivalent to the benchmarked porthole's:
 *  - filesystem storage in a temp dir, deletes allowed;
 *  - access log off and only errors logged (porthole runs at log.level warn);
 *  - Prometheus metrics on, on the debug listener (the only place 2.8 serves them);
 *  - the in-memory blob descriptor cache, as in Debian's stock /etc/docker/registry/config.yml
 *    (porthole keeps its own in-memory caches), so the reference is measured as it is deployed.
 * Keys checked against /usr/share/doc/docker-registry/configuration.md.gz.
 */
function configuration(root: string, port: number, debugPort: number): string {
  return stringify({
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: root }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
    http: { addr: `127.0.0.1:${port}`, debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true, path: '/metrics' } } },
  });
}

/** Starts `docker-registry serve` on loopback and resolves once GET /v2/ answers 200 (bounded: 20 s). */
export async function startDistribution(): Promise<DistributionProcess> {
  const dir = await tempDir('distribution');
  const root = join(dir, 'data');
  const [port, debugPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, configuration(root, port, debugPort));
  const service = spawnService('docker-registry', ['serve', configFile]);
  const url = `http://127.0.0.1:${port}`;
  const dispose = async (): Promise<void> => {
    await service.stop();
    await cleanup(dir);
  };
  const answers = async (): Promise<true | undefined> => {
    try {
      return (await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) })).status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  };
  try {
    await waitForService(service, 'GET /v2/ to answer 200', answers);
  } catch (err) {
    await dispose();
    throw new Error(`docker-registry ${(err as Error).message}`);
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    root,
    process: service.process,
    metricsUrl: `http://127.0.0.1:${debugPort}/metrics`,
    output: service.output,
    dispose,
  };
}
