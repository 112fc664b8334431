import { existsSync, realpathSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCommand } from '../e2e/run-command.js';
import type { PodmanStore } from '../e2e/podman-store.js';

// No base image can be pulled here (no registry on the internet is reachable), so the official
// Node images that the Containerfile builds on are stood in for by local ones made the same way in
// what matters to the build: a minimal Debian of the same release, made with debootstrap from the
// mirror apt uses, with this machine's node, npm and Node headers at the paths the official images
// have them (/usr/local/bin/node, /usr/local/lib/node_modules/npm, /usr/local/include/node), and,
// for the full (non-slim) image, the compilers node-gyp needs, which the official one has.

/** An official Node image name: node:<major>-<debian release>[-slim]. */
const NODE_IMAGE = /^node:(\d+)-([a-z]+)(-slim)?$/;

/** What the full image has that a native addon's build needs (the official one has buildpack-deps). */
const BUILD_PACKAGES = ['python3', 'make', 'g++'];

/** The Debian mirror apt uses for `suite`, from its sources (deb822 .sources files, or sources.list). */
async function debianMirror(suite: string): Promise<string> {
  const dir = '/etc/apt/sources.list.d';
  const files = [...(await readdir(dir).catch(() => [])).map((name) => join(dir, name)), '/etc/apt/sources.list'];
  for (const file of files.filter((path) => path.endsWith('.sources') || path.endsWith('.list'))) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (field('Types').includes('deb') && field('Suites').includes(suite) && !/^Enabled:\s*no/im.test(stanza)) {
          const uri = field('URIs')[0];
          if (uri) return uri;
        }
      }
    } else {
      for (const line of text.split('\n')) {
        const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
        if (match?.[1] && match[2] === suite) return match[1];
      }
    }
  }
  throw new Error(`no Debian mirror for ${suite} in apt's sources: debootstrap needs one`);
}

/** Where this machine's Node.js keeps what the official images hold under /usr/local. */
function localNode(): { binary: string; npm: string; headers: string } {
  const binary = realpathSync(process.execPath);
  const prefix = join(dirname(binary), '..');
  const found = { binary, npm: join(prefix, 'lib', 'node_modules', 'npm'), headers: join(prefix, 'include', 'node') };
  for (const path of [found.npm, join(found.headers, 'node_api.h')]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: the Node image stand-in needs this machine's npm and Node headers`);
  }
  return found;
}

async function addNode(rootfs: string): Promise<void> {
  const node = localNode();
  const local = join(rootfs, 'usr', 'local');
  await mkdir(join(local, 'bin'), { recursive: true });
  await mkdir(join(local, 'lib', 'node_modules'), { recursive: true });
  await mkdir(join(local, 'include'), { recursive: true });
  await cp(node.binary, join(local, 'bin', 'node'));
  await cp(node.npm, join(local, 'lib', 'node_modules', 'npm'), { recursive: true, verbatimSymlinks: true });
  await cp(node.headers, join(local, 'include', 'node'), { recursive: true });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));
}

/**
 * A tar of the stand-in's root file system. Outside CI it is kept in the user's cache, by node
 * version, so that running the suite again skips debootstrap; CI machines are new each time.
 */
async function standInTar(image: string, workDir: string): Promise<string> {
  const match = NODE_IMAGE.exec(image);
  if (!match) throw new Error(`${image} is not an official Node image name (node:<major>-<release>[-slim])`);
  const [, major, suite = '', slim] = match;
  const ownMajor = process.versions.node.split('.')[0];
  if (major !== ownMajor) throw new Error(`${image} needs Node.js ${major}; the stand-in can only carry this machine's, ${ownMajor}`);
  const cacheDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'porthole-test');
  const name = `node-${process.version}-${suite}${slim ?? ''}.tar`;
  const cached = join(cacheDir, name);
  if (process.env.CI !== 'true' && existsSync(cached)) return cached;

  const rootfs = join(workDir, `rootfs-${suite}${slim ?? ''}`);
  const include = slim ? [] : [`--include=${BUILD_PACKAGES.join(',')}`];
  await runCommand('debootstrap', ['--variant=minbase', ...include, suite, rootfs, await debianMirror(suite)], { timeoutMs: 15 * 60_000 });
  await addNode(rootfs);
  const keep = process.env.CI !== 'true';
  const tar = keep ? `${cached}.partial` : join(workDir, name);
  if (keep) await mkdir(cacheDir, { recursive: true });
  await runCommand('tar', ['-C', rootfs, '-cf', tar, '.'], { timeoutMs: 5 * 60_000 });
  await rm(rootfs, { recursive: true, force: true });
  if (!keep) return tar;
  await rename(tar, cached);
  return cached;
}

/** Makes each official Node image named (node:20-bookworm-slim...) exist in `store`, as a stand-in. */
export async function makeNodeStandIns(store: PodmanStore, images: string[], workDir: string): Promise<void> {
  const tars = await Promise.all(images.map((image) => standInTar(image, workDir)));
  for (const [index, image] of images.entries()) {
    // The fully qualified name, which the build's short name resolves to without a search.
    await store.podman(['import', tars[index] as string, `docker.io/library/${image}`], 5 * 60_000);
  }
}
