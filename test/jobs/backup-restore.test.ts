import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, watch } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { runCommand } from '../e2e/run-command.js';
import { loadConfig } from '../../src/config/load.js';
import type { PortholeConfig } from '../../src/config/schema.js';
import { createStorage } from '../../src/create-storage.js';
import { backupJob } from '../../src/jobs/backup.js';
import type { Job } from '../../src/jobs/job.js';
import type { JobRunRecord } from '../../src/jobs/job-history.js';
import { restoreJob } from '../../src/jobs/restore.js';
import { JobRunner } from '../../src/jobs/runner.js';
import { disabledAuditor } from '../../src/observability/audit.js';
import { createLogger } from '../../src/observability/logger.js';
import { disabledTracing } from '../../src/observability/tracing/tracing.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { cleanup, PORTHOLE_CLI, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { descriptor, digestOf, makeImage, OCI_MANIFEST, pushBlob, pushManifest, type Image } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { diffTrees, snapshotTree } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import {
  assertWhole,
  auditLines,
  contentFiles,
  jobConfig,
  revisionsOnDisk,
  runLine,
  tagsOnDisk,
  tarListing,
  truncatedCopy,
  withFlippedByte,
} from './archive-checks.js';

/** Every tag the source registry holds, by repository. */
const SOURCE_TAGS: Record<string, string[]> = {
  'lib/single': ['latest', 'v1'],
  'lib/multi': ['multi'],
  'lib/docker': ['v1'],
  'art/app': ['v1'],
};

/**
 * porthole backup and restore with real tools (docs/jobs.md): a source registry holding a
 * single-arch image (under two tags), a multi-arch index, a Docker v2s2 image and an image with a
 * referrer, pushed with skopeo and the API; backups of it restored into fresh roots, compared file
 * for file and pulled back with skopeo; skopeo copying an image out of a backup and writing an
 * archive that restores; corrupt, truncated and interrupted restores.
 */
describe('porthole backup and restore', { skip: skipUnlessTools('skopeo', 'zstd', 'tar') }, () => {
  let work: string;
  let sandbox: ContainersSandbox;
  let source: PortholeProcess;
  let single: LayoutDescription;
  let multi: LayoutDescription;
  let app: Image;
  let referrerDigest: string;
  const started: PortholeProcess[] = [];
  const scratchDirs: string[] = [];

  /** A temp dir of a test's own, removed with the suite. */
  async function scratch(name: string): Promise<string> {
    const dir = await tempDir(name);
    scratchDirs.push(dir);
    return dir;
  }

  /** A CLI job with a configuration of its own, auditing into work/audit.log. */
  async function job(args: string[], root: string, name: string): Promise<{ code: number | null; line: ReturnType<typeof runLine>; stderr: string }> {
    const config = await jobConfig(work, name, root, join(work, 'audit.log'));
    const result = await runCli([...args, '--config', config]);
    return { code: result.code, line: runLine(result.stdout), stderr: result.stderr };
  }

  async function serve(root: string): Promise<PortholeProcess> {
    const porthole = await startPorthole({ root });
    started.push(porthole);
    return porthole;
  }

  function docker(porthole: PortholeProcess, repo: string, tag: string): string {
    return `docker://${porthole.host}/${repo}:${tag}`;
  }

  /** The digest of `repo:tag` as the registry serves it, by skopeo. */
  async function skopeoDigest(porthole: PortholeProcess, repo: string, tag: string): Promise<string> {
    const { stdout } = await sandbox.skopeo(['inspect', '--raw', '--tls-verify=false', docker(porthole, repo, tag)]);
    return digestOf(Buffer.from(stdout));
  }

  /** Pulls every image of SOURCE_TAGS out of `porthole` with skopeo (all platforms) into a layout, which skopeo verifies blob by blob. */
  async function assertSkopeoPullsAll(porthole: PortholeProcess, label: string): Promise<void> {
    for (const [repo, tags] of Object.entries(SOURCE_TAGS)) {
      for (const tag of tags) {
        const out = join(work, `pull-${label}-${repo.replace('/', '-')}-${tag}`);
        await sandbox.skopeo(['copy', '--quiet', '--all', '--src-tls-verify=false', docker(porthole, repo, tag), `oci:${out}:${tag}`]);
        assert.equal(await skopeoDigest(porthole, repo, tag), await skopeoDigest(source, repo, tag), `${repo}:${tag} is the same manifest`);
      }
    }
  }

  before(async () => {
    work = await tempDir('backup-restore');
    sandbox = await ContainersSandbox.create();
    source = await serve(await scratch('backup-source'));
    single = await buildOciLayout({ dir: join(work, 'single'), tag: 'v1', seed: 'backup-single', layers: 2, fileBytes: 64 * 1024 });
    multi = await buildOciLayout({
      dir: join(work, 'multi'),
      tag: 'multi',
      seed: 'backup-multi',
      layers: 2,
      fileBytes: 32 * 1024,
      platforms: [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
      ],
    });
    const push = (layout: LayoutDescription, to: string, ...flags: string[]) =>
      sandbox.skopeo(['copy', '--quiet', ...flags, '--dest-tls-verify=false', `oci:${layout.dir}:${layout.tag}`, `docker://${source.host}/${to}`]);
    await push(single, 'lib/single:v1');
    await push(single, 'lib/single:latest');
    await push(multi, 'lib/multi:multi', '--all');
    await push(single, 'lib/docker:v1', '--format', 'v2s2');
    // An image and an artifact that refers to it (a signature, say), found by the referrers API.
    app = await makeImage(source.url, 'art/app', { tag: 'v1', layerSize: 4096 });
    const emptyConfig = Buffer.from('{}');
    const signature = Buffer.from(`signature of ${app.manifestDigest}`);
    await pushBlob(source.url, 'art/app', emptyConfig);
    await pushBlob(source.url, 'art/app', signature);
    const artifact = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.signature',
      config: descriptor('application/vnd.oci.empty.v1+json', emptyConfig),
      layers: [descriptor('application/octet-stream', signature)],
      subject: app.descriptor,
    };
    const artifactBytes = Buffer.from(JSON.stringify(artifact));
    referrerDigest = (await pushManifest(source.url, 'art/app', digestOf(artifactBytes), artifactBytes, OCI_MANIFEST)).digest;
  });

  after(async () => {
    for (const porthole of started) await porthole.stop().catch(() => undefined);
    await sandbox?.dispose();
    await cleanup(work, ...scratchDirs, ...started.map((porthole) => porthole.root));
  });

  it('backs up to a .tar and restores into a fresh root: the same files, tags and referrers, every image pulls with skopeo, audited', async () => {
    const archive = join(work, 'all.tar');
    const backup = await job(['backup', '--to', archive], source.root, 'backup-all');
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(backup.line.outcome, 'success');
    assert.equal(backup.line.to, archive);
    assert.equal(backup.line.repositories, 4);
    assert.equal(backup.line.tags, 5);
    assert.equal(backup.line.leftOut, 0);
    // Nothing left beside it: the partial file was renamed into place.
    assert.deepEqual((await readdir(work)).filter((name) => name.includes('.partial')), []);

    const entries = await tarListing(archive);
    assert.deepEqual(entries.slice(0, 2).map((entry) => entry.name), ['oci-layout', 'index.json'], 'the layout files come first');
    const blobNames = entries.slice(2).map((entry) => entry.name);
    assert.equal(new Set(blobNames).size, blobNames.length, 'each blob once');
    assert.ok(blobNames.every((name) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(name)));
    assert.equal(blobNames.length, (backup.line.manifests as number) + (backup.line.blobs as number));
    const index = JSON.parse((await runCommand('tar', ['-xOf', archive, 'index.json'])).stdout) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const refNames = index.manifests.map((entry) => entry.annotations?.['org.opencontainers.image.ref.name']).filter((name) => name !== undefined).sort();
    assert.deepEqual(refNames, ['art/app:v1', 'lib/docker:v1', 'lib/multi:multi', 'lib/single:latest', 'lib/single:v1']);
    assert.ok(index.manifests.some((entry) => entry.digest === referrerDigest), 'the referrer is an entry of index.json');

    const restoredRoot = await scratch('backup-restored');
    const restore = await job(['restore', '--from', archive], restoredRoot, 'restore-all');
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(restore.line.outcome, 'success');
    assert.equal(restore.line.tags, 5);
    assert.equal(restore.line.passes, 1, 'a porthole archive loads in one pass');
    assert.deepEqual(await contentFiles(restoredRoot), await contentFiles(source.root), 'byte-identical blobs, manifests, links, tags and referrers');

    const restored = await serve(restoredRoot);
    await assertSkopeoPullsAll(restored, 'tar');
    const referrers = await raw(restored.url, { path: `/v2/art/app/referrers/${app.manifestDigest}` });
    assert.equal(referrers.status, 200);
    assert.deepEqual(
      (JSON.parse(referrers.body.toString('utf8')) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest),
      [referrerDigest],
    );

    const audit = join(work, 'audit.log');
    assert.ok((await auditLines(audit, 'job.backup')).some((line) => line.outcome === 'success' && line.detail.includes(archive)), 'a job.backup audit line');
    assert.ok((await auditLines(audit, 'job.restore')).some((line) => line.outcome === 'success' && line.detail.includes(archive)), 'a job.restore audit line');
  });

  it('skopeo copies one image out of a porthole backup (oci-archive:FILE:<repository>:<tag>)', async () => {
    const archive = join(work, 'for-skopeo.tar');
    assert.equal((await job(['backup', '--to', archive], source.root, 'backup-skopeo')).code, 0);
    const target = await serve(await scratch('backup-skopeo-target'));
    await sandbox.skopeo(['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci-archive:${archive}:lib/multi:multi`, docker(target, 'copied/multi', 'multi')]);
    await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${archive}:lib/single:v1`, docker(target, 'copied/single', 'v1')]);
    assert.equal(await skopeoDigest(target, 'copied/multi', 'multi'), await skopeoDigest(source, 'lib/multi', 'multi'));
    assert.equal(await skopeoDigest(target, 'copied/single', 'v1'), single.root.digest);
    await assertWhole(target.url, 'copied/multi', 'multi');
  });

  it('restores an archive skopeo wrote (ref names that are only a tag go --into a repository)', async () => {
    const archive = join(work, 'written-by-skopeo.tar');
    await sandbox.skopeo(['copy', '--quiet', '--all', '--src-tls-verify=false', docker(source, 'lib/multi', 'multi'), `oci-archive:${archive}:multi`]);
    const root = await scratch('backup-from-skopeo');

    const refused = await job(['restore', '--from', archive], root, 'restore-skopeo-no-into');
    assert.equal(refused.code, 1);
    assert.match(refused.line.error ?? '', /names only a tag: give --into REPO/);

    const restore = await job(['restore', '--from', archive, '--into', 'imported/multi'], root, 'restore-skopeo');
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(restore.line.tags, 1);
    assert.equal(restore.line.passes, 2, 'index.json comes last in skopeo\'s archives: a second pass stages the blobs');
    const restored = await serve(root);
    assert.equal(await assertWhole(restored.url, 'imported/multi', 'multi'), await skopeoDigest(source, 'lib/multi', 'multi'));
    await sandbox.skopeo(['copy', '--quiet', '--all', '--src-tls-verify=false', docker(restored, 'imported/multi', 'multi'), `oci:${join(work, 'pull-imported')}:multi`]);
  });

  it('round-trips through .tar.gz and .tar.zst', async () => {
    const expected = await contentFiles(source.root);
    for (const [extension, magic] of [
      ['.tar.gz', '1f8b'],
      ['.tar.zst', '28b52ffd'],
    ] as const) {
      const archive = join(work, `all${extension}`);
      const backup = await job(['backup', '--to', archive], source.root, `backup${extension}`);
      assert.equal(backup.code, 0, backup.stderr);
      assert.ok((await readFile(archive)).subarray(0, magic.length / 2).toString('hex') === magic, `${extension} is compressed as its name says`);
      const root = await scratch('backup-compressed');
      const restore = await job(['restore', '--from', archive], root, `restore${extension}`);
      assert.equal(restore.code, 0, restore.stderr);
      assert.deepEqual(await contentFiles(root), expected, `${extension}: the same content`);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('filters repositories with --repo globs when backing up and when restoring', async () => {
    const archive = join(work, 'lib-only.tar');
    const backup = await job(['backup', '--to', archive, '--repo', 'lib/*'], source.root, 'backup-lib');
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(backup.line.repositories, 3);
    const index = JSON.parse((await runCommand('tar', ['-xOf', archive, 'index.json'])).stdout) as { manifests: Array<{ annotations?: Record<string, string> }> };
    assert.ok(index.manifests.every((entry) => entry.annotations?.['porthole.repository']?.startsWith('lib/')));

    const root = await scratch('backup-filtered');
    const restore = await job(['restore', '--from', join(work, 'all.tar'), '--repo', 'art/**', '--repo', '**/docker'], root, 'restore-filtered');
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(await readdir(join(root, 'repositories')).then((names) => names.sort()), ['art', 'lib']);
    assert.deepEqual(await readdir(join(root, 'repositories', 'lib')), ['docker']);
    assert.deepEqual(await tagsOnDisk(root, 'art/app'), ['v1']);
    await rm(root, { recursive: true, force: true });
  });

  it('keeps existing tags unless --overwrite, and says which', async () => {
    const target = await serve(await scratch('backup-existing'));
    const other = await makeImage(target.url, 'lib/single', { tag: 'v1' });
    const kept = await job(['restore', '--from', join(work, 'all.tar'), '--repo', 'lib/single'], target.root, 'restore-keep');
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(kept.line.tagsKept, 1);
    assert.equal(kept.line.keptTags, 'lib/single:v1');
    assert.equal(kept.line.tags, 1, 'latest was new');
    assert.match(kept.stderr, /kept lib\/single:v1/);
    assert.equal(await assertWhole(target.url, 'lib/single', 'v1'), other.manifestDigest);
    assert.equal(await assertWhole(target.url, 'lib/single', 'latest'), single.root.digest);

    const moved = await job(['restore', '--from', join(work, 'all.tar'), '--repo', 'lib/single', '--overwrite'], target.root, 'restore-overwrite');
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(moved.line.tagsKept, 0);
    assert.equal(moved.line.tagsOverwritten, 1);
    assert.equal(await assertWhole(target.url, 'lib/single', 'v1'), single.root.digest);
  });

  it('refuses truncated and corrupt archives, leaving the target registry unchanged', async () => {
    const archive = join(work, 'all.tar');
    const entries = await tarListing(archive);
    const largest = entries.reduce((a, b) => (b.size > a.size ? b : a));
    const index = entries.find((entry) => entry.name === 'index.json');
    assert.ok(index && largest.size > 1024);
    const zst = join(work, 'all.tar.zst');
    const gz = join(work, 'all.tar.gz');
    const zstSize = (await readFile(zst)).length;
    const bad: Array<[string, string, RegExp]> = [
      ['cut in the middle of a blob', await truncatedCopy(archive, largest.dataOffset + Math.floor(largest.size / 2), join(work, 'cut-blob.tar')), /truncated/],
      ['cut after index.json', await truncatedCopy(archive, index.dataOffset + 512 * Math.ceil(index.size / 512), join(work, 'cut-index.tar')), /lacks manifest|truncated/],
      ['cut at a blob boundary', await truncatedCopy(archive, largest.dataOffset - 512, join(work, 'cut-boundary.tar')), /lacks|truncated/],
      ['a flipped byte in a layer', await withFlippedByte(archive, largest.dataOffset + 100, join(work, 'flipped-layer.tar')), /does not match its digest.*corrupt/],
      ['a flipped byte in a tar header', await withFlippedByte(archive, largest.dataOffset - 512 + 130, join(work, 'flipped-header.tar')), /corrupt/],
      ['a flipped byte in .tar.zst', await withFlippedByte(zst, Math.floor(zstSize * 0.6), join(work, 'flipped.tar.zst')), /corrupt|zstd/],
      ['a .tar.gz cut short', await truncatedCopy(gz, Math.floor((await readFile(gz)).length * 0.7), join(work, 'cut.tar.gz')), /gzip data is corrupt or cut short/],
    ];
    const target = await serve(await scratch('backup-refusing'));
    await makeImage(target.url, 'lib/other', { tag: 'v1' });
    const before = await snapshotTree(target.root);
    for (const [what, file, message] of bad) {
      const restore = await job(['restore', '--from', file], target.root, 'restore-bad');
      assert.equal(restore.code, 1, `${what}: refused (${restore.stderr.slice(-300)})`);
      assert.equal(restore.line.outcome, 'failure');
      assert.match(restore.line.error ?? '', message, `${what}: ${restore.line.error ?? ''}`);
      const after = await snapshotTree(target.root);
      assert.deepEqual(diffTrees(before, after), { added: [], removed: [], changed: [] }, `${what}: the registry is unchanged`);
    }
  });

  it('a restore killed with SIGKILL half-way leaves nothing visible that is not whole', { timeout: 90_000 }, async () => {
    const images = 120;
    const many = await serve(await scratch('backup-many'));
    const digests = new Map<string, string>();
    for (let i = 0; i < images; i += 1) digests.set(`t${i}`, (await makeImage(many.url, 'kill/many', { tag: `t${i}`, layerSize: 2048 })).manifestDigest);
    const archive = join(work, 'many.tar');
    assert.equal((await job(['backup', '--to', archive], many.root, 'backup-many')).code, 0);

    // Killed while tags are being set, and while manifests are being put (no tag yet).
    const killPoints: Array<[string, (root: string) => Promise<boolean>]> = [
      ['the first tag', async (root) => (await tagsOnDisk(root, 'kill/many')).length > 0],
      ['the first manifest', async (root) => (await revisionsOnDisk(root, 'kill/many')).length > 0],
    ];
    for (const [point, reached] of killPoints) {
      const root = await scratch('backup-killed');
      const config = await jobConfig(work, 'restore-killed', root, join(work, 'audit-killed.log'));
      const child = spawn(process.execPath, [PORTHOLE_CLI, 'restore', '--from', archive, '--config', config], { stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await waitFor(`restore to reach ${point}`, () => reached(root), 60_000);
      child.kill('SIGKILL');
      await exited;

      const tags = await tagsOnDisk(root, 'kill/many');
      const revisions = await revisionsOnDisk(root, 'kill/many');
      assert.ok(tags.length < images, `killed at ${point} before the restore ended (${tags.length} tags visible)`);
      const restarted = await serve(root);
      for (const tag of tags) assert.equal(await assertWhole(restarted.url, 'kill/many', tag), digests.get(tag), `${tag} pulls whole`);
      for (const digest of revisions) await assertWhole(restarted.url, 'kill/many', digest);
      if (tags[0] !== undefined) await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', docker(restarted, 'kill/many', tags[0]), `oci:${join(work, `pull-killed-${tags[0]}`)}:x`]);
      // The staging a killed restore left were one-shot upload sessions: gone once porthole started.
      assert.deepEqual(await readdir(join(root, 'uploads')).catch(() => []), []);
      await restarted.stop();
    }
  });

  it('a blob removed during the backup fails it cleanly: no archive, no partial file', async () => {
    const registry = await serve(await scratch('backup-vanishing'));
    await makeImage(registry.url, 'a/big', { tag: 'v1', layerSize: 96 * 1024 * 1024 });
    const small = await makeImage(registry.url, 'z/small', { tag: 'v1', layerSize: 4096 });
    const outDir = await scratch('backup-vanishing-out');
    const archive = join(outDir, 'vanishing.tar');
    // The partial file appears once the plan is made; a/big's 96 MiB layer is written first.
    const hex = small.layerDigest.slice('sha256:'.length);
    const watcher = watch(outDir, (_event, name) => {
      if (String(name).endsWith('.partial')) void rm(join(registry.root, 'blobs', 'sha256', hex.slice(0, 2), hex), { recursive: true, force: true });
    });
    try {
      const backup = await job(['backup', '--to', archive], registry.root, 'backup-vanishing');
      assert.equal(backup.code, 1, backup.stderr);
      assert.match(backup.line.error ?? '', new RegExp(`blob ${small.layerDigest} of z/small was removed during the backup`));
    } finally {
      watcher.close();
    }
    assert.deepEqual(await readdir(outDir), [], 'neither the archive nor its partial file');
  });

  it('a backup and a restore told to stop (serve shutting down) stop cleanly: no archive, nothing restored', async () => {
    const registry = await serve(await scratch('backup-stopped'));
    await makeImage(registry.url, 'big/one', { tag: 'v1', layerSize: 64 * 1024 * 1024 });
    const outDir = await scratch('backup-stopped-out');
    const stop = new AbortController();
    // Stopped in the middle of the 64 MiB layer: once the archive holds a few MiB of it.
    const watcher = watch(outDir, (_event, name) => {
      const partial = join(outDir, String(name));
      if (partial.endsWith('.partial') && (statSizeOf(partial) ?? 0) > 4 * 1024 * 1024) stop.abort();
    });
    try {
      const backup = await runInProcess(registry.root, stop.signal, (config) => backupJob(config, { to: join(outDir, 'stopped.tar'), repos: [] }));
      assert.equal(backup.outcome, 'failure');
      assert.match(backup.error ?? '', /the backup was stopped.*partial archive was removed/);
    } finally {
      watcher.close();
    }
    assert.deepEqual(await readdir(outDir), []);

    const archive = join(outDir, 'whole.tar');
    assert.equal((await job(['backup', '--to', archive], registry.root, 'backup-for-stop')).code, 0);
    const root = await scratch('restore-stopped');
    const restoreStop = new AbortController();
    const stopAtFirstSession = setInterval(() => {
      void readdir(join(root, 'uploads')).then((sessions) => sessions.length > 0 && restoreStop.abort(), () => undefined);
    }, 5);
    try {
      const restore = await runInProcess(root, restoreStop.signal, (config) => restoreJob(config, { from: archive, repos: [], overwrite: false }));
      assert.equal(restore.outcome, 'failure');
      assert.match(restore.error ?? '', /the restore was stopped .* nothing was restored/);
    } finally {
      clearInterval(stopAtFirstSession);
    }
    assert.deepEqual(await readdir(join(root, 'uploads')), [], 'its staged blobs were cancelled');
    assert.equal(existsSync(join(root, 'repositories')), false, 'nothing restored');
  });

  it('refuses bad flags before anything runs (exit 2)', async () => {
    const outDir = await scratch('backup-flags');
    const refusals: Array<[string[], RegExp]> = [
      [['backup', '--root', source.root, '--to', join(outDir, 'x.zip')], /must end in \.tar, \.tar\.gz, \.tar\.zst/],
      [['backup', '--root', source.root, '--to', join(outDir, 'missing', 'x.tar')], /does not exist/],
      [['backup', '--root', source.root, '--to', join(outDir, 'x.tar'), '--repo', 'Lib/*'], /--repo "Lib\/\*" may hold only/],
      [['restore', '--root', source.root, '--from', join(outDir, 'absent.tar')], /no such file/],
      [['restore', '--root', source.root, '--from', join(work, 'all.tar'), '--into', 'Not/A/Repo'], /--into "Not\/A\/Repo" is not a repository name/],
    ];
    for (const [args, message] of refusals) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assert.deepEqual(await readdir(outDir), []);
  });

  describe('the parts on their own', () => {
    it('repository globs: * within a component, ** across', async () => {
      const { repoMatcher } = await import('../../src/jobs/archive/repo-globs.js');
      const matches = repoMatcher(['team/*', '**/cache', 'lib/**']);
      for (const repo of ['team/app', 'x/y/cache', 'cache', 'lib', 'lib/a/b']) assert.ok(matches(repo), repo);
      for (const repo of ['team/app/sub', 'team', 'x/cached', 'library/a']) assert.ok(!matches(repo), repo);
      assert.ok(repoMatcher([])('anything/at/all'));
    });

    it('scheduled archives: {date} as the UTC time of the run, the newest `keep` kept', async () => {
      const { dateStamp, datedArchivePath, pruneDatedArchives } = await import('../../src/jobs/archive/dated-archives.js');
      assert.equal(dateStamp(new Date('2026-11-28T06:14:00.123Z')), '20261128T061400Z');
      const dir = await scratch('backup-dated');
      const pattern = join(dir, 'porthole-{date}.tar.zst');
      assert.equal(datedArchivePath(pattern, new Date('2026-11-28T06:14:00Z')), join(dir, 'porthole-20261128T061400Z.tar.zst'));
      const names = ['porthole-20261101T000000Z.tar.zst', 'porthole-20261128T061400Z.tar.zst', 'porthole-20261115T120000Z.tar.zst', 'porthole-20261120T000000Z.tar.zst', 'other-20200101T000000Z.tar.zst', 'porthole-latest.tar.zst'];
      for (const name of names) await writeFile(join(dir, name), '');
      const removed = await pruneDatedArchives(pattern, 2);
      assert.deepEqual(removed.map((path) => path.slice(dir.length + 1)).sort(), ['porthole-20261101T000000Z.tar.zst', 'porthole-20261115T120000Z.tar.zst']);
      assert.deepEqual((await readdir(dir)).sort(), ['other-20200101T000000Z.tar.zst', 'porthole-20261120T000000Z.tar.zst', 'porthole-20261128T061400Z.tar.zst', 'porthole-latest.tar.zst']);
      await rm(dir, { recursive: true, force: true });
    });
  });
});

/**
 * Runs a job on the runner inside this process, as serve runs its scheduled ones, with `signal`
 * as serve's shutdown signal.
 */
async function runInProcess(root: string, signal: AbortSignal, makeJob: (config: PortholeConfig) => Job): Promise<JobRunRecord> {
  // Its failure is the point: the runner's error line would only clutter the test's output.
  const config = await loadConfig(undefined, { 'storage.rootDirectory': root, 'log.level': 'fatal' });
  const log = createLogger(config.log, process.stderr);
  const storage = await createStorage(config, { log });
  await storage.store.attach();
  const runner = new JobRunner({ storage, log, auditor: disabledAuditor, tracing: disabledTracing, signal });
  return runner.run(makeJob(config), 'schedule');
}

function statSizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
