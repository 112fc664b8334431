import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createTar, type TarEntry } from '../fixtures/tar.js';

/**
 * Writes content straight into the filesystem storage of distribution 2.8 (docker-registry), the
 * way its storage driver lays it out (registry/storage/paths.go), so that a test can have
 * thousands of repositories in seconds instead of pushing them:
 *
 *   docker/registry/v2/blobs/sha256/<first two hex>/<hex>/data                   the bytes (manifests too)
 *   docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link              "sha256:<hex>" (configs, layers)
 *   docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
 *   docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
 *   docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
 *
 * Links hold the digest with no newline. This is the layout docker-registry itself wrote for a
 * push in this environment (checked by listing a pushed root); the suite that uses it reads the
 * result back through docker-registry's API before relying on it. The files go down as one tar
 * archive extracted by GNU tar (which makes the parent directories): some 150,000 directories
 * and files through Node's four fs threads took 40 s on a busy 2-core machine.
 */

const V2 = 'docker/registry/v2';

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

export class DistributionStorageWriter {
  private entries: TarEntry[] = [];
  private readonly blobs = new Set<string>();

  constructor(private readonly root: string) {}

  private link(path: string, digest: string): void {
    this.entries.push({ path: `${V2}/${path}/link`, type: 'file', content: Buffer.from(digest) });
  }

  /** Stores `bytes` once under blobs/ and returns its digest. */
  blob(bytes: Buffer): string {
    const digest = sha256(bytes);
    if (!this.blobs.has(digest)) {
      this.blobs.add(digest);
      const hex = hexOf(digest);
      this.entries.push({ path: `${V2}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, type: 'file', content: bytes });
    }
    return digest;
  }

  /** Links a config or layer blob (already stored with blob()) into `repository`. */
  layer(repository: string, digest: string): void {
    this.link(`repositories/${repository}/_layers/sha256/${hexOf(digest)}`, digest);
  }

  /** Stores a manifest in `repository` under `tag`; its blobs must be linked with layer(). */
  manifest(repository: string, tag: string, bytes: Buffer): string {
    const digest = this.blob(bytes);
    const hex = hexOf(digest);
    const manifests = `repositories/${repository}/_manifests`;
    this.link(`${manifests}/revisions/sha256/${hex}`, digest);
    this.link(`${manifests}/tags/${tag}/current`, digest);
    this.link(`${manifests}/tags/${tag}/index/sha256/${hex}`, digest);
    return digest;
  }

  /** Writes everything queued under the root (GNU tar, bounded: 120 s) and returns how many files that was. */
  async flush(): Promise<number> {
    const entries = this.entries;
    this.entries = [];
    await mkdir(this.root, { recursive: true });
    const archive = createTar(entries);
    await new Promise<void>((resolve, reject) => {
      const tar = spawn('tar', ['-x', '-C', this.root], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      tar.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => tar.kill('SIGKILL'), 120_000);
      tar.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      tar.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`tar -x exited with ${code ?? signal}: ${stderr}`));
      });
      tar.stdin.on('error', () => undefined).end(archive);
    });
    return entries.length;
  }
}
