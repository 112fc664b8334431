import { freePort } from '../helpers/free-port.js';
import { startHaproxy, type HaproxyProcess } from '../helpers/haproxy-process.js';
import { cleanup, startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { startS3rver, type S3rverProcess } from '../helpers/s3rver-process.js';
import { newBucket, type TestStorage } from '../helpers/test-storage.js';

/** Several porthole replicas on one bucket of an s3rver, sharing a redis-server, behind haproxy. */
export interface Cluster {
  replicas: PortholeProcess[];
  balancer: HaproxyProcess;
  redis: RedisProcess;
  s3: S3rverProcess;
  storage: Extract<TestStorage, { driver: 's3' }>;
  /** Starts replica `index` again (after a kill), on its port, under its name. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  replicas: number;
  /** More config for every replica (YAML); storage, redis and replicaId are the cluster's. */
  config?: string;
}

/** Fills `parts` as each piece starts, so that a start that fails half-way can still be stopped. */
export async function startCluster(options: ClusterOptions, parts: Partial<Cluster> = {}): Promise<Cluster> {
  parts.s3 = await startS3rver();
  parts.redis = await startRedis();
  const storage = { ...(await newBucket(parts.s3.endpoint)), redisUrl: parts.redis.url };
  parts.storage = storage;
  const ports = await Promise.all(Array.from({ length: options.replicas }, () => freePort()));
  const start = (index: number): Promise<PortholeProcess> =>
    startPorthole({ storage, port: ports[index] as number, config: [`replicaId: r${index + 1}`, options.config ?? ''].join('\n') });
  parts.replicas = [];
  for (let index = 0; index < options.replicas; index += 1) parts.replicas.push(await start(index));
  parts.balancer = await startHaproxy(ports.map((port, index) => ({ name: `r${index + 1}`, port })));
  const cluster = parts as Cluster;
  cluster.restart = async (index) => {
    cluster.replicas[index] = await start(index);
  };
  cluster.stop = () => stopCluster(cluster);
  return cluster;
}

/** Stops whatever of a cluster started; safe after a start that failed half-way. */
export async function stopCluster(parts: Partial<Cluster>): Promise<void> {
  await parts.balancer?.stop();
  await Promise.all((parts.replicas ?? []).map((replica) => replica.stop()));
  await cleanup(...(parts.replicas ?? []).map((replica) => replica.root));
  await parts.redis?.stop();
  await parts.s3?.stop();
}
