import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { corruptBlobs, layoutGraph, layoutRoot } from '../fixtures/oci-layout-reader.js';
import { backdate } from '../helpers/behind-porthole.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { OCI_INDEX, digestOf, pushBlob, pushManifest } from '../helpers/registry-client.js';
import { snapshotTree } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import {
  ageStorage,
  deleteReference,
  gcConfigFile,
  getManifestStatus,
  headBlob,
  HOUR_MS,
  pushImage,
  randomBlob,
  runGc,
  storedDigests,
  type GcLine,
  type PushedImage,
} from './gc-fixture.js';

const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';
const SIGNATURE = 'application/vnd.example.signature';

/** Digests as a sorted list, to compare sets. */
function sorted(digests: Iterable<string>): string[] {
  return [...digests].sort();
}

/** The digests in `before` that are not in `after`. */
function gone(before: Set<string>, after: Set<string>): string[] {
  return sorted([...before].filter((digest) => !after.has(digest)));
}

/** Sizes of every pushed thing, by digest, from the images' own accounts. */
function sizesOf(...images: PushedImage[]): Map<string, number> {
  return new Map(images.flatMap((image) => [...image.sizes]));
}

function bytesOf(digests: string[], sizes: Map<string, number>): number {
  return digests.reduce((sum, digest) => sum + (sizes.get(digest) ?? Number.NaN), 0);
}

/** Sets a blob's data and its link in `repo` `ageMs` into the past. */
async function ageBlob(root: string, repo: string, digest: string, ageMs: number): Promise<void> {
  const hex = digest.slice('sha256:'.length);
  await backdate(root, [join(root, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'), join(root, 'repositories', repo, '_layers', 'sha256', hex)], ageMs);
}

describe('porthole gc: what it removes and what it keeps', () => {
  let work: string;
  const portholes: PortholeProcess[] = [];

  async function serve(): Promise<PortholeProcess> {
    const porthole = await startPorthole();
    portholes.push(porthole);
    return porthole;
  }

  before(async () => {
    work = await tempDir('gc');
  });
  after(async () => {
    for (const porthole of portholes) await porthole.stop();
    await cleanup(work, ...portholes.map((porthole) => porthole.root));
  });

  it('after a manifest is deleted, frees exactly the blobs nothing else references, and a dry run first only reports them', async () => {
    const { url, root } = await serve();
    const config = await gcConfigFile(work, 'deleted', root);
    const shared = randomBlob();
    const v1 = await pushImage(url, 'team/app', { config: randomBlob(300), layers: [shared, randomBlob()] }, 'v1');
    const v2 = await pushImage(url, 'team/app', { config: randomBlob(300), layers: [shared, randomBlob()] }, 'v2');
    const other = await pushImage(url, 'team/other', { config: randomBlob(300), layers: [shared, randomBlob()] }, 'v1');
    const orphanBytes = randomBlob(700);
    const orphan = await pushBlob(url, 'team/app', orphanBytes);
    await ageStorage(root, 2 * HOUR_MS);
    await deleteReference(url, 'team/app', v2.digest);
    // Pushed just now, its manifest not yet put: younger than the grace (1h).
    const young = await pushBlob(url, 'team/app', randomBlob());

    // From what was pushed: the remaining manifests keep themselves and their blobs, the young blob stays.
    const keptByManifests = new Set([v1.digest, ...v1.blobs, other.digest, ...other.blobs, young]);
    const pushed = new Set([v1.digest, ...v1.blobs, v2.digest, ...v2.blobs, other.digest, ...other.blobs, orphan, young]);
    const expectedFreed = sorted([...pushed].filter((digest) => !keptByManifests.has(digest)));
    const sizes = sizesOf(v1, v2, other).set(orphan, orphanBytes.length);
    assert.equal(expectedFreed.length, 4, 'v2, its config, its own layer and the orphan');
    // v2's config and own layer, and the orphan: the shared layer is v1's too.
    const expectedLinks = 3;

    const before = await snapshotTree(root);
    const dry = await runGc(config, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(await snapshotTree(root), before, 'a dry run changes nothing on disk');
    assert.equal(dry.line.dryRun, true);
    assert.equal(dry.line.blobs, expectedFreed.length);
    assert.equal(dry.line.bytes, bytesOf(expectedFreed, sizes));
    assert.equal(dry.line.links, expectedLinks);
    assert.equal(dry.line.manifests, 0);

    const storedBefore = await storedDigests(root);
    const run = await runGc(config);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(gone(storedBefore, await storedDigests(root)), expectedFreed);
    assert.equal(run.line.dryRun, false);
    assert.equal(run.line.blobs, expectedFreed.length);
    assert.equal(run.line.bytes, bytesOf(expectedFreed, sizes));
    assert.equal(run.line.links, expectedLinks);
    assert.equal(run.line.repositories, 2);
    assert.equal(run.line.complete, true);

    for (const image of [v1, other]) {
      const repo = image === v1 ? 'team/app' : 'team/other';
      assert.equal(await getManifestStatus(url, repo, 'v1'), 200);
      for (const blob of image.blobs) assert.equal(await headBlob(url, repo, blob), 200, `${repo} keeps ${blob}`);
    }
    assert.equal(await headBlob(url, 'team/app', young), 200, 'the young blob is still there');
    assert.equal(await headBlob(url, 'team/app', orphan), 404);

    const again = await runGc(config);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([again.line.blobs, again.line.links, again.line.bytes], [0, 0, 0], 'nothing left to remove');
  });

  it('with --untagged, removes untagged manifests (a deleted tag, referrers of removed subjects) and what they alone referenced', async () => {
    const { url, root } = await serve();
    const config = await gcConfigFile(work, 'untagged', root);
    const repo = 'lib/u';
    const sharedLayer = randomBlob();
    const emptyConfig = Buffer.from('{}');
    const tagged = await pushImage(url, repo, { config: randomBlob(300), layers: [sharedLayer, randomBlob()] }, 't1');
    const untagged = await pushImage(url, repo, { config: randomBlob(300), layers: [sharedLayer, randomBlob()] });
    const retagged = await pushImage(url, repo, { config: randomBlob(300), layers: [randomBlob()] }, 't2');
    const amd64 = await pushImage(url, repo, { config: randomBlob(300), layers: [randomBlob()] });
    const arm64 = await pushImage(url, repo, { config: randomBlob(300), layers: [randomBlob()] });
    const indexBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd64.descriptor, arm64.descriptor] }));
    const index = await pushManifest(url, repo, 'multi', indexBytes, OCI_INDEX);
    const signature = (subject: PushedImage) =>
      pushImage(url, repo, { config: emptyConfig, configType: EMPTY_CONFIG, layers: [randomBlob(200)], artifactType: SIGNATURE, subject: subject.descriptor });
    const keptSignature = await signature(tagged);
    const orphanedSignature = await signature(untagged);
    await ageStorage(root, 2 * HOUR_MS);
    await deleteReference(url, repo, 't2');
    const youngUntagged = await pushImage(url, repo, { config: randomBlob(300), layers: [randomBlob()] });

    // From what was pushed: tagged manifests, an index's children, referrers of kept subjects and young ones stay.
    const keptImages = [tagged, amd64, arm64, keptSignature, youngUntagged];
    const kept = new Set([index.digest, ...keptImages.flatMap((image) => [image.digest, ...image.blobs])]);
    const all = [tagged, untagged, retagged, amd64, arm64, keptSignature, orphanedSignature, youngUntagged];
    const pushed = new Set([index.digest, ...all.flatMap((image) => [image.digest, ...image.blobs])]);
    const expectedFreed = sorted([...pushed].filter((digest) => !kept.has(digest)));
    const sizes = sizesOf(...all);
    assert.ok(!expectedFreed.includes(digestOf(emptyConfig)), 'the empty config is the kept signature’s too');

    const before = await snapshotTree(root);
    const dry = await runGc(config, '--untagged', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(await snapshotTree(root), before);
    assert.equal(dry.line.untagged, true);
    assert.equal(dry.line.manifests, 3, 'the untagged image, the one whose tag was deleted, and the signature of the first');
    assert.equal(dry.line.blobs, expectedFreed.length);
    assert.equal(dry.line.bytes, bytesOf(expectedFreed, sizes));

    const storedBefore = await storedDigests(root);
    const run = await runGc(config, '--untagged');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(gone(storedBefore, await storedDigests(root)), expectedFreed);
    assert.equal(run.line.manifests, 3);
    assert.equal(run.line.bytes, bytesOf(expectedFreed, sizes));

    for (const removed of [untagged, retagged, orphanedSignature]) assert.equal(await getManifestStatus(url, repo, removed.digest), 404);
    for (const stays of [...keptImages.map((image) => image.digest), 'multi', 't1']) assert.equal(await getManifestStatus(url, repo, stays), 200, `${stays} stays`);
    const referrers = (await raw(url, { path: `/v2/${repo}/referrers/${tagged.digest}` })).json() as { manifests: Array<{ digest: string }> };
    assert.deepEqual(referrers.manifests.map((entry) => entry.digest), [keptSignature.digest]);
    const orphanedReferrers = (await raw(url, { path: `/v2/${repo}/referrers/${untagged.digest}` })).json() as { manifests: unknown[] };
    assert.deepEqual(orphanedReferrers.manifests, [], 'the removed signature left the referrers index');
  });

  it('keeps what is younger than the grace, and an old blob a push has just checked with HEAD', async () => {
    const { url, root } = await serve();
    const config = await gcConfigFile(work, 'grace', root);
    const repo = 'grace/repo';
    const twentyMinutes = await pushBlob(url, repo, randomBlob());
    const fiveMinutes = await pushBlob(url, repo, randomBlob());
    const headed = await pushBlob(url, repo, randomBlob());
    const forgotten = await pushBlob(url, repo, randomBlob());
    await ageBlob(root, repo, twentyMinutes, 20 * 60_000);
    await ageBlob(root, repo, fiveMinutes, 5 * 60_000);
    for (const digest of [headed, forgotten]) await ageBlob(root, repo, digest, 2 * HOUR_MS);

    const tenMinutes = await runGc(config, '--grace', '10m');
    assert.equal(tenMinutes.code, 0, tenMinutes.stderr);
    assert.equal(tenMinutes.line.grace, '10m');
    const stored = await storedDigests(root);
    assert.deepEqual(
      [twentyMinutes, fiveMinutes, headed, forgotten].map((digest) => stored.has(digest)),
      [false, true, false, false],
      'with --grace 10m: only what is older than 10 minutes went',
    );

    const alsoHeaded = await pushBlob(url, repo, randomBlob());
    const alsoForgotten = await pushBlob(url, repo, randomBlob());
    for (const digest of [alsoHeaded, alsoForgotten]) await ageBlob(root, repo, digest, 2 * HOUR_MS);
    // A client about to push a manifest that references it (skopeo skips the upload of a blob HEAD finds).
    assert.equal(await headBlob(url, repo, alsoHeaded), 200);
    const byDefault = await runGc(config);
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.equal(byDefault.line.grace, '1h');
    assert.equal(await headBlob(url, repo, alsoHeaded), 200, 'the blob HEAD found is still there');
    assert.equal(await headBlob(url, repo, alsoForgotten), 404, 'its old neighbour went');
    assert.equal(await headBlob(url, repo, fiveMinutes), 200, 'five minutes is younger than the default hour');
  });
});

describe('porthole gc: exit codes, output and audit', () => {
  let work: string;
  before(async () => {
    work = await tempDir('gc-cli');
  });
  after(() => cleanup(work));

  it('prints the run as one JSON line, exits 0 and writes a job.gc audit line', async () => {
    const root = join(work, 'audited');
    const audit = join(work, 'audit.log');
    const config = await gcConfigFile(work, 'audited', root, [`log: { audit: "${audit}" }`, 'jobs: { gc: { untagged: true, grace: 30m } }']);
    const run = await runGc(config);
    assert.equal(run.code, 0, run.stderr);
    const { line } = run;
    assert.deepEqual(
      { action: line.action, outcome: line.outcome, dryRun: line.dryRun, untagged: line.untagged, grace: line.grace, complete: line.complete },
      { action: 'gc', outcome: 'success', dryRun: false, untagged: true, grace: '30m', complete: true },
      'jobs.gc.* from the configuration',
    );
    for (const field of ['repositories', 'manifests', 'links', 'blobs', 'bytes', 'seconds'] as const) assert.equal(typeof line[field], 'number', field);
    const lines = (await readFile(audit, 'utf8')).trim().split('\n').map((text) => JSON.parse(text) as { action: string; outcome: string; subject: string; detail: string });
    assert.deepEqual(lines.map(({ action, outcome, subject }) => ({ action, outcome, subject })), [{ action: 'job.gc', outcome: 'success', subject: 'porthole' }]);
    const detail = JSON.parse(lines[0]?.detail ?? '{}') as Partial<GcLine> & { trigger: string };
    assert.equal(detail.trigger, 'cli');
    assert.equal(detail.blobs, 0);
    assert.equal(detail.untagged, true);
  });

  it('refuses a --grace that is not a duration with exit 2, touching nothing', async () => {
    const root = join(work, 'never-made');
    const config = await gcConfigFile(work, 'refused', root);
    const run = await runGc(config, '--grace', 'a while');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--grace: "a while" is not a duration/);
    assert.equal(run.stdout, '');
    assert.equal(existsSync(root), false, 'not even the storage root was made');
  });

  it('exits 3 when another gc holds the lock, and 1 when the run fails', async () => {
    const busyRoot = join(work, 'busy');
    await mkdir(join(busyRoot, 'jobs'), { recursive: true });
    // This test's own process, alive on this host: its lock is not stale.
    await writeFile(join(busyRoot, 'jobs', 'gc.lock'), JSON.stringify({ host: hostname(), pid: process.pid, purpose: 'gc', startedAt: new Date().toISOString() }));
    const busy = await runGc(await gcConfigFile(work, 'busy', busyRoot));
    assert.equal(busy.code, 3, busy.stderr);
    assert.equal(busy.line.outcome, 'skipped');

    const failingRoot = join(work, 'failing');
    await mkdir(failingRoot, { recursive: true });
    // A file where the lock directory goes: the run cannot take its lock, and fails.
    await writeFile(join(failingRoot, 'jobs'), 'not a directory');
    const failed = await runGc(await gcConfigFile(work, 'failing', failingRoot));
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(failed.line.outcome, 'failure');
    assert.match(failed.line.error ?? '', /ENOTDIR|EEXIST/);
  });
});

describe('porthole gc while skopeo pushes', { skip: skipUnlessTools('skopeo') }, () => {
  let work: string;
  let sandbox: ContainersSandbox;
  let porthole: PortholeProcess;

  before(async () => {
    work = await tempDir('gc-race');
    sandbox = await ContainersSandbox.create();
    porthole = await startPorthole();
  });
  after(async () => {
    await porthole?.stop();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  /** Copies an image out with skopeo and checks it is the layout, digest for digest, and whole. */
  async function assertPullsWhole(layout: LayoutDescription, reference: string): Promise<void> {
    const out = join(work, `out-${reference.replace(/[/:]/g, '-')}`);
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${porthole.host}/${reference}`, `oci:${out}:${layout.tag}`]);
    const root = await layoutRoot(out, layout.tag);
    assert.equal(root.digest, layout.root.digest, `${reference}: the manifest came back byte for byte`);
    assert.deepEqual(await layoutGraph(out, root.digest), await layoutGraph(layout.dir, layout.root.digest));
    assert.deepEqual(await corruptBlobs(out), []);
  }

  it('never breaks a push, nor loses a pushed blob, while pushes reuse old unreferenced layers', { timeout: 120_000 }, async () => {
    const PUSHES = 8;
    /** Image `index`: its seed's first layers are those of the old image of the same index. */
    const image = (name: string, index: number, layers: number) =>
      buildOciLayout({ dir: join(work, name), tag: 'v1', seed: `gc-race-${index}`, layers, filesPerLayer: 1, fileBytes: 1024 * 1024, gzipLevel: 0 });
    const olds = await Promise.all(Array.from({ length: PUSHES }, (_, index) => image(`old-${index}`, index, 2)));
    await Promise.all(
      olds.map(async (old, index) => {
        await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${old.dir}:v1`, `docker://${porthole.host}/race/old${index}:v1`]);
        // Its manifest goes: its layers stay linked, referenced by nothing.
        await deleteReference(porthole.url, `race/old${index}`, old.root.digest);
      }),
    );
    await ageStorage(porthole.root, 2 * HOUR_MS);
    const config = await gcConfigFile(work, 'race', porthole.root);

    const layouts = await Promise.all(Array.from({ length: PUSHES }, (_, index) => image(`new-${index}`, index, 3)));
    // Most into the old image's repository, where HEAD finds the old links (and skopeo skips the
    // upload); every third into a new repository (an upload of content stored already, or a mount from the old one).
    const destinations = layouts.map((_, index) => (index % 3 === 2 ? `race/new${index}:v1` : `race/old${index}:v2`));

    let pushing = true;
    const runs: GcLine[] = [];
    let firstRunDone: () => void = () => undefined;
    const firstRun = new Promise<void>((resolve) => (firstRunDone = resolve));
    const collector = (async () => {
      while (pushing || runs.length < 2) {
        const run = await runGc(config, ...(runs.length % 2 === 1 ? ['--untagged'] : []));
        assert.equal(run.code, 0, run.stderr);
        runs.push(run.line);
        firstRunDone();
      }
    })();
    // Most pushes start about when the first gc run plans and sweeps (skopeo HEADs the old layers, then
    // uploads a 1 MiB layer, then puts the manifest: the window gc must not break); the last two
    // once it is over, when their old layers are gone and must be uploaded again.
    const LATE = 2;
    const pushes = layouts.map(async (layout, index) => {
      if (index < PUSHES - LATE) await sleep(250 + 80 * index);
      else await firstRun;
      await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${porthole.host}/${destinations[index]}`]);
    });
    const settled = await Promise.allSettled(pushes);
    pushing = false;
    await collector;
    const failures = settled.flatMap((result, index) => (result.status === 'rejected' ? [`${destinations[index]}: ${String(result.reason)}`] : []));
    assert.deepEqual(failures, [], 'every push succeeded');
    // Each old image's config link goes (no push uses it); the late pushes' old layers went too,
    // before they were pushed again.
    const links = runs.reduce((sum, run) => sum + run.links, 0);
    assert.ok(runs.length >= 2 && links > PUSHES, `gc removed old layers while pushes ran: ${JSON.stringify(runs)}`);

    // And after one more collection, every pushed image comes out whole.
    const last = await runGc(config, '--untagged');
    assert.equal(last.code, 0, last.stderr);
    for (const [index, layout] of layouts.entries()) await assertPullsWhole(layout, destinations[index] as string);
  });
});
