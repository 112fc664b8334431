import { join } from 'node:path';
import { after, before } from 'node:test';
import { buildOciLayout, type LayoutDescription, type LayoutOptions } from '../fixtures/oci-layout.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { ContainersSandbox } from './containers-sandbox.js';

/** A docker-registry that porthole caches, holding the suite's two images before porthole starts. */
export interface UpstreamOptions {
  /** porthole's name for it (`proxy.upstreams[].name`): the namespace it is cached under. */
  namespace: string;
  /** Whether that namespace is also `proxy.defaultNamespace`, for names that give none. */
  isDefaultNamespace?: boolean;
  /** The repositories of the upstream the single and the multi-arch image are pushed to, under their tags. */
  repos: { single: string; multi: string };
}

export interface E2eSuiteOptions {
  /** The single-platform (linux/amd64) image, tagged v1. */
  single: Omit<LayoutOptions, 'dir' | 'tag' | 'platforms'>;
  /** The linux/amd64 + linux/arm64 image index, tagged multi; seed `${name}-multi` and 32 KiB files when omitted. */
  multi?: Omit<LayoutOptions, 'dir' | 'tag' | 'platforms'>;
  upstream?: UpstreamOptions;
}

/** What every end-to-end suite works with: one porthole, one client sandbox, two test images. */
export interface E2eSuite {
  porthole: PortholeProcess;
  sandbox: ContainersSandbox;
  /** A temp dir of the suite's own, removed at the end. */
  work: string;
  single: LayoutDescription;
  multi: LayoutDescription;
  /** The docker-registry porthole caches; only in a suite started with `upstream`. */
  upstream: DistributionProcess;
  /**
   * Pushes a fixture into porthole under `repo` with skopeo (every platform of an index), once:
   * tests may run alone (--test-name-pattern), so each asks for what it needs.
   */
  pushed(fixture: LayoutDescription, repo: string, ...skopeoFlags: string[]): Promise<unknown>;
}

/**
 * The suite for a test file or describe block: started in `before`, stopped and removed in
 * `after`. Read its fields inside tests (they throw before the start).
 */
export function useE2eSuite(name: string, options: E2eSuiteOptions): E2eSuite {
  const parts: Partial<Omit<E2eSuite, 'pushed'>> = {};
  before(() => startE2eSuite(name, options, parts));
  after(() => stopE2eSuite(parts));

  const started = <K extends keyof typeof parts>(key: K): NonNullable<(typeof parts)[K]> => {
    const value = parts[key];
    if (value === undefined) throw new Error(`the ${name} suite has no ${key}: it is not started (use it inside tests), or was not asked for one`);
    return value as NonNullable<(typeof parts)[K]>;
  };
  const pushes = new Map<string, Promise<unknown>>();
  return {
    get porthole() {
      return started('porthole');
    },
    get sandbox() {
      return started('sandbox');
    },
    get work() {
      return started('work');
    },
    get single() {
      return started('single');
    },
    get multi() {
      return started('multi');
    },
    get upstream() {
      return started('upstream');
    },
    pushed(fixture, repo, ...skopeoFlags) {
      const destination = `docker://${started('porthole').host}/${repo}:${fixture.tag}`;
      if (!pushes.has(destination)) pushes.set(destination, copyIn(started('sandbox'), fixture, destination, skopeoFlags));
      return pushes.get(destination) as Promise<unknown>;
    },
  };
}

function copyIn(sandbox: ContainersSandbox, fixture: LayoutDescription, destination: string, flags: string[] = []): Promise<unknown> {
  const copyAll = fixture.index ? ['--all'] : [];
  return sandbox.skopeo(['copy', '--quiet', ...copyAll, ...flags, '--dest-tls-verify=false', `oci:${fixture.dir}:${fixture.tag}`, destination]);
}

/** porthole as a pull-through cache of `upstream`, with metrics on so that tests can see where pulls came from. */
/**
 * One replica heartbeat, at start: the suites check at their end that no staging file is left,
 * which a later heartbeat caught between its staging file and its rename would fail.
 */
const ONE_HEARTBEAT = 'storage: { heartbeatInterval: 1h }';

function proxyConfig(upstream: DistributionProcess, options: UpstreamOptions): string {
  const lines = ['extensions: { metrics: { enable: true } }', 'proxy:', '  upstreams:', `    - { name: ${options.namespace}, url: "${upstream.url}" }`];
  if (options.isDefaultNamespace) lines.push(`  defaultNamespace: ${options.namespace}`);
  return [...lines, ONE_HEARTBEAT].join('\n');
}

/** Fills `parts` as each piece starts, so that a start that fails half-way can still be stopped. */
async function startE2eSuite(name: string, options: E2eSuiteOptions, parts: Partial<E2eSuite>): Promise<void> {
  const work = await tempDir(name);
  parts.work = work;
  parts.single = await buildOciLayout({ dir: join(work, 'single'), tag: 'v1', ...options.single });
  parts.multi = await buildOciLayout({
    seed: `${name}-multi`,
    fileBytes: 32 * 1024,
    ...options.multi,
    dir: join(work, 'multi'),
    tag: 'multi',
    platforms: [
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
    ],
  });
  parts.sandbox = await ContainersSandbox.create();
  if (options.upstream === undefined) {
    parts.porthole = await startPorthole({ config: ONE_HEARTBEAT });
    return;
  }
  const upstream = await startDistribution();
  parts.upstream = upstream;
  const { single, multi } = options.upstream.repos;
  await copyIn(parts.sandbox, parts.single, `docker://${upstream.host}/${single}:${parts.single.tag}`);
  await copyIn(parts.sandbox, parts.multi, `docker://${upstream.host}/${multi}:${parts.multi.tag}`);
  parts.porthole = await startPorthole({ config: proxyConfig(upstream, options.upstream) });
}

/** Stops what startE2eSuite started; safe after a start that failed half-way. */
async function stopE2eSuite(parts: Partial<E2eSuite>): Promise<void> {
  await parts.porthole?.stop();
  await parts.upstream?.dispose();
  await parts.sandbox?.dispose();
  await cleanup(...[parts.work, parts.porthole?.root].filter((dir): dir is string => dir !== undefined));
}
