import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../test/helpers/free-port.js';
import { startHaproxy, type HaproxyProcess } from '../../test/helpers/haproxy-process.js';
import { cleanup, tempDir, type PortholeProcess } from '../../test/helpers/porthole-process.js';
import { startRedis, type RedisProcess } from '../../test/helpers/redis-process.js';
import { startS3rver, type S3rverProcess } from '../../test/helpers/s3rver-process.js';
import { spawnService, waitForService, type ServiceProcess } from '../../test/helpers/service-process.js';
import type { TestStorage } from '../../test/helpers/test-storage.js';
import { distributionContender, PORTHOLE_CONFIG, portholeContender, type Contender } from './contenders.js';
import { startQuietPorthole } from './quiet-porthole.js';
import { MEBIBYTE } from './settings.js';

/**
 * What the s3 group runs, on loopback: one s3rver (its buckets: porthole's and docker-registry's),
 * one redis-server, porthole replicas on porthole's bucket sharing that Redis (each with its own
 * replicaId and a fixed port), haproxy in front of the first 1, 2, ... of them, a porthole on the
 * filesystem, and docker-registry 2.8 with its s3 driver. Each part is handed to `track` as soon
 * as it runs, so that a failure or an interrupt half-way still stops it (teardown.ts).
 */

export type Track = (what: string, stop: () => Promise<void>) => void;

/** The names of the push and pull figures' contenders. */
export type TransferName = 'porthole-s3' | 'porthole-fs' | 'distribution-s3';

export type QuietPorthole = PortholeProcess & { dispose(): Promise<void> };

/** docker-registry on S3, and what it logged (its errors say why a push failed). */
export interface DistributionOnS3 {
  contender: Contender<TransferName>;
  service(): ServiceProcess;
}

/** The key and secret porthole's own connection to the s3rver uses (s3rver checks only the key id). */
function credentialsOf(s3: S3rverProcess): { accessKeyId: string; secretAccessKey: string } {
  const credentials = s3.connection.credentials;
  if (credentials === undefined) throw new Error('the s3rver connection has no credentials');
  return { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
}

/**
 * docker-registry's configuration on S3, otherwise that of the comparison's docker-registry
 * (test/helpers/distribution-process.ts: errors only, no access log, Prometheus metrics on the
 * debug listener, the in-memory blob descriptor cache). Keys of the 2.8 s3 driver (Debian's
 * configuration.md): it has no forcepathstyle (added in 3.0) but addresses the bucket in the
 * path whenever `regionendpoint` is set. `redirect.disable`: the driver would otherwise answer
 * blob GETs with a redirect to S3, where porthole (storage.s3.redirect: false) streams them.
 */
function distributionConfig(s3: S3rverProcess, bucket: string, port: number, debugPort: number): string {
  const { accessKeyId, secretAccessKey } = credentialsOf(s3);
  const driver = {
    region: s3.connection.region,
    regionendpoint: s3.endpoint,
    bucket,
    accesskey: accessKeyId,
    secretkey: secretAccessKey,
    secure: false,
    v4auth: true,
    chunksize: 5 * MEBIBYTE,
  };
  return stringify({
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: true } },
    storage: { s3: driver, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' }, redirect: { disable: true } },
    http: { addr: `127.0.0.1:${port}`, debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true, path: '/metrics' } } },
  });
}

/**
 * The environment without the AWS SDK's variables: with AWS_CA_BUNDLE set (as on machines that
 * add a CA of their own), docker-registry's AWS SDK for Go panics at start-up ("LoadCustomCABundleError:
 * unable to load custom CA bundle, HTTPClient's transport unsupported type"); loopback HTTP needs none.
 */
function withoutAwsVariables(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.keys(process.env).filter((name) => name.startsWith('AWS_')).map((name) => [name, undefined]));
}

/** `docker-registry serve` on a bucket of the s3rver; resolves once GET /v2/ answers (bounded: 20 s). */
export async function startDistributionOnS3(s3: S3rverProcess, bucket: string, track: Track): Promise<DistributionOnS3> {
  const dir = await tempDir('distribution-s3');
  const [port, debugPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, distributionConfig(s3, bucket, port, debugPort));
  const service = spawnService('docker-registry', ['serve', configFile], withoutAwsVariables());
  const dispose = async (): Promise<void> => {
    await service.stop();
    await cleanup(dir);
  };
  track('stop docker-registry on S3', dispose);
  const url = `http://127.0.0.1:${port}`;
  await waitForService(service, 'GET /v2/ to answer', async () => {
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2_000) });
      return response.status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  });
  const distribution = { url, host: `127.0.0.1:${port}`, process: service.process, metricsUrl: `http://127.0.0.1:${debugPort}/metrics`, dispose };
  return { contender: distributionContender('distribution-s3', distribution), service: () => service };
}

/** What docker-registry logged at level error, one message a line (logrus: `level=error msg="..."`). */
export function loggedErrors(output: string): string[] {
  return [...output.matchAll(/level=(?:error|fatal|panic) msg="((?:[^"\\]|\\.)*)"/g)].map((match) => (match[1] as string).replace(/\\n\\t/g, ' ').replace(/\\(.)/g, '$1'));
}

/** The S3 side of the group: the s3rver, Redis, and porthole's storage on them. */
export interface S3Backend {
  s3: S3rverProcess;
  redis: RedisProcess;
  /** porthole's bucket, shared through Redis by every replica. */
  storage: Extract<TestStorage, { driver: 's3' }>;
  /** docker-registry's bucket, in the same s3rver. */
  distributionBucket: string;
}

export async function startS3Backend(track: Track): Promise<S3Backend> {
  const s3 = await startS3rver();
  track('stop s3rver and remove its store', () => s3.stop());
  const redis = await startRedis();
  track('stop redis-server', () => redis.stop());
  await s3.createBucket('porthole');
  await s3.createBucket('distribution');
  return { s3, redis, storage: { driver: 's3', bucket: 'porthole', connection: s3.connection, redisUrl: redis.url }, distributionBucket: 'distribution' };
}

/**
 * The porthole replicas on the bucket, r1, r2, ...: the comparison's porthole (log.level warn,
 * full-mode metrics) with the bucket, Redis (test-storage.ts's configWithStorage: key prefix the
 * bucket's, delimiterListing false as s3rver needs) and a replicaId and fixed port of its own.
 */
export class Replicas {
  readonly started: QuietPorthole[] = [];

  private constructor(
    private readonly backend: S3Backend,
    private readonly ports: number[],
    private readonly track: Track,
  ) {}

  /** Ports for `count` replicas, fixed up front as a balancer's configuration would name them. */
  static async plan(backend: S3Backend, count: number, track: Track): Promise<Replicas> {
    const ports: number[] = [];
    for (let index = 0; index < count; index += 1) ports.push(await freePort());
    return new Replicas(backend, ports, track);
  }

  /** Starts the replicas up to the `count`th (those not running yet). */
  async startUpTo(count: number): Promise<QuietPorthole[]> {
    while (this.started.length < count) {
      const index = this.started.length;
      const id = `r${index + 1}`;
      const replica = await startQuietPorthole(`replicaId: ${id}\n${PORTHOLE_CONFIG}`, { storage: this.backend.storage, port: this.ports[index] as number });
      this.track(`stop porthole replica ${id}`, () => replica.dispose());
      this.started.push(replica);
    }
    return this.started.slice(0, count);
  }

  /** haproxy (haproxy-process.ts: round robin per request, health checks on /livez) in front of the first `count`. */
  async balancer(count: number): Promise<HaproxyProcess> {
    const backends = this.ports.slice(0, count).map((port, index) => ({ name: `r${index + 1}`, port }));
    const haproxy = await startHaproxy(backends);
    this.track(`stop haproxy in front of ${count} replica(s)`, () => haproxy.stop());
    return haproxy;
  }
}

/** porthole on the filesystem, as in the comparison (a temp dir, removed afterwards). */
export async function startPortholeOnFilesystem(track: Track): Promise<{ porthole: QuietPorthole; contender: Contender<TransferName> }> {
  const porthole = await startQuietPorthole(PORTHOLE_CONFIG);
  track('stop porthole on the filesystem', () => porthole.dispose());
  return { porthole, contender: portholeContender('porthole-fs', porthole) };
}
