import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { corruptBlobs, layoutRoot } from '../fixtures/oci-layout-reader.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { logLines, type LogLine } from '../helpers/log-lines.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { pushBlob } from '../helpers/registry-client.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { sha256File, storageCensus } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';

/** The JSON line a job command prints on stdout, as far as these tests read it. */
interface ScrubLine {
  action: string;
  outcome: string;
  repair: boolean;
  complete: boolean;
  blobs: number;
  manifests: number;
  bytes: number;
  corrupt: number;
  corruptBlobs: number;
  corruptManifests: number;
  repaired: number;
  skipped: number;
}

interface AuditLine {
  action: string;
  outcome: string;
  subject: string;
}

const REPOS = ['scrub/app', 'scrub/mirror'];

function scrubLine(result: CliResult): ScrubLine {
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as ScrubLine;
}

function blobFile(root: string, digest: string): string {
  const [algorithm = '', hex = ''] = digest.split(':');
  return join(root, 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
}

/** Flips one bit of a stored file, in place, as a failing disk would. */
async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = (bytes[offset] ?? 0) ^ 0x01;
  await writeFile(path, bytes);
}

function linesAbout(result: CliResult, digest: string, level: string): LogLine[] {
  return logLines(result.stderr).filter((line) => line.digest === digest && line.level === level);
}

/**
 * `porthole scrub` against a registry that serves while it runs: an image pushed by skopeo into
 * two repositories (so its content is linked twice) and a sha512 blob; a clean scrub, then one
 * bit flipped in a layer and one in the image manifest, found, repaired, and pushed again.
 */
describe('porthole scrub', { skip: skipUnlessTools('skopeo'), timeout: 120_000 }, () => {
  let work: string;
  let porthole: PortholeProcess;
  let sandbox: ContainersSandbox;
  let image: LayoutDescription;
  let config: string;
  let auditLog: string;

  const scrub = (...flags: string[]): Promise<CliResult> => runCli(['scrub', '--config', config, ...flags]);
  const pushImage = (repo: string): Promise<unknown> =>
    sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, `docker://${porthole.host}/${repo}:${image.tag}`]);
  const headBlob = async (repo: string, digest: string): Promise<number> => (await raw(porthole.url, { method: 'HEAD', path: `/v2/${repo}/blobs/${digest}` })).status;
  const auditLines = async (): Promise<AuditLine[]> =>
    (await readFile(auditLog, 'utf8'))
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text) as AuditLine)
      .filter((line) => line.action === 'job.scrub');

  /** The layer and the manifest whose stored bytes the tests damage. */
  const damaged = (): { layer: string; manifest: string } => ({ layer: image.images[0]?.layers[0]?.digest ?? '', manifest: image.root.digest });
  let damage: Promise<void> | undefined;
  /** Damages them once, whichever test asks first (each may run alone). */
  const damageOnce = (): Promise<void> =>
    (damage ??= (async () => {
      const { layer, manifest } = damaged();
      await flipByte(blobFile(porthole.root, layer), 1000);
      await flipByte(blobFile(porthole.root, manifest), 20);
    })());

  before(async () => {
    work = await tempDir('jobs-scrub');
    image = await buildOciLayout({ dir: join(work, 'image'), tag: 'v1', seed: 'scrub', layers: 2, fileBytes: 128 * 1024 });
    sandbox = await ContainersSandbox.create();
    porthole = await startPorthole();
    auditLog = join(work, 'audit.log');
    config = join(work, 'porthole.yaml');
    await writeFile(config, `storage: { rootDirectory: "${porthole.root}" }\nlog: { audit: "${auditLog}" }\n`);
    for (const repo of REPOS) await pushImage(repo);
    // sha512 content is hashed with its own algorithm.
    await pushBlob(porthole.url, 'scrub/app', randomBytes(70_000), 'post-put', 'sha512');
  });

  after(async () => {
    await porthole?.stop();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  it('scrubs a clean registry clean: exit 0, every blob and manifest examined, a job.scrub audit line', async () => {
    const census = await storageCensus(porthole.root);
    const result = await scrub();
    assert.equal(result.code, 0, result.stderr);
    const line = scrubLine(result);
    assert.equal(line.action, 'scrub');
    assert.equal(line.outcome, 'success');
    assert.deepEqual(
      { repair: line.repair, complete: line.complete, blobs: line.blobs, manifests: line.manifests, bytes: line.bytes, corrupt: line.corrupt, repaired: line.repaired, skipped: line.skipped },
      { repair: false, complete: true, blobs: census.blob.count, manifests: census.manifest.count, bytes: census.blob.bytes + census.manifest.bytes, corrupt: 0, repaired: 0, skipped: 0 },
    );
    assert.deepEqual(logLines(result.stderr).filter((entry) => entry.level === 'error'), []);
    assert.deepEqual(
      (await auditLines()).map(({ action, outcome, subject }) => ({ action, outcome, subject })),
      [{ action: 'job.scrub', outcome: 'success', subject: 'porthole' }],
    );
  });

  it('finds a bit flipped in a stored blob and in a stored manifest, names them and their repositories, exits 1 and changes nothing', async () => {
    await damageOnce();
    const { layer, manifest } = damaged();
    const before = { layer: await sha256File(blobFile(porthole.root, layer)), manifest: await sha256File(blobFile(porthole.root, manifest)) };
    const result = await scrub();
    assert.equal(result.code, 1, result.stderr);
    const line = scrubLine(result);
    assert.equal(line.outcome, 'failure');
    assert.deepEqual(
      { corrupt: line.corrupt, corruptBlobs: line.corruptBlobs, corruptManifests: line.corruptManifests, repaired: line.repaired, complete: line.complete },
      { corrupt: 2, corruptBlobs: 1, corruptManifests: 1, repaired: 0, complete: true },
    );

    const [blobReport, ...moreBlobReports] = linesAbout(result, layer, 'error');
    assert.deepEqual(moreBlobReports, [], 'one line per corrupt item');
    assert.equal(blobReport?.kind, 'blob');
    assert.deepEqual(blobReport?.repos, REPOS);
    assert.equal(blobReport?.actual, `sha256:${before.layer}`, 'the digest its bytes have now');
    const [manifestReport] = linesAbout(result, manifest, 'error');
    assert.equal(manifestReport?.kind, 'manifest');
    assert.deepEqual(manifestReport?.repos, REPOS);
    assert.equal(logLines(result.stderr).filter((entry) => entry.level === 'error' && entry.kind !== undefined).length, 2, 'nothing else reported');

    // Without --repair the store is as it was: the damage is reported, not acted on.
    assert.equal(await sha256File(blobFile(porthole.root, layer)), before.layer);
    assert.equal(await sha256File(blobFile(porthole.root, manifest)), before.manifest);
    for (const repo of REPOS) assert.equal(await headBlob(repo, layer), 200);
    assert.equal((await auditLines()).at(-1)?.outcome, 'failure');
  });

  it('--repair removes them, so that skopeo pushes the image again; then a scrub is clean and the image pulls whole', async () => {
    await damageOnce();
    const { layer, manifest } = damaged();
    const repaired = await scrub('--repair');
    assert.equal(repaired.code, 1, 'the run found corruption: it failed, repaired or not');
    const line = scrubLine(repaired);
    assert.deepEqual({ repair: line.repair, corrupt: line.corrupt, repaired: line.repaired }, { repair: true, corrupt: 2, repaired: 2 });
    for (const digest of [layer, manifest]) {
      const [said] = linesAbout(repaired, digest, 'warn');
      assert.equal(said?.repaired, true, `the log says ${digest} was repaired`);
      assert.deepEqual(said?.repos, REPOS);
    }
    // HEAD answers 404 where the blob was linked, so that skopeo uploads it instead of skipping it.
    for (const repo of REPOS) assert.equal(await headBlob(repo, layer), 404, `HEAD ${layer} in ${repo}`);

    await pushImage('scrub/app');
    assert.equal(await headBlob('scrub/app', layer), 200);
    assert.equal(`sha256:${await sha256File(blobFile(porthole.root, layer))}`, layer, 'the layer is whole again');
    assert.equal(`sha256:${await sha256File(blobFile(porthole.root, manifest))}`, manifest, 'the manifest is whole again');

    const clean = await scrub();
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(scrubLine(clean).corrupt, 0);

    // Both repositories share the content that the push into one made whole.
    for (const repo of REPOS) {
      const out = join(work, `pulled-${repo.replace('/', '-')}`);
      await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${porthole.host}/${repo}:${image.tag}`, `oci:${out}:${image.tag}`]);
      assert.equal((await layoutRoot(out, image.tag)).digest, manifest);
      assert.deepEqual(await corruptBlobs(out), []);
    }
    assert.deepEqual((await auditLines()).map((entry) => entry.outcome).slice(-2), ['failure', 'success']);
  });
});
