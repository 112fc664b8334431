import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PORTHOLE_CLI } from '../helpers/porthole-process.js';

const run = promisify(execFile);

/** Every file named `data` under a blob store directory (what remains of blobs on disk). */
export async function blobFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile() && entry.name === 'data').map((entry) => join(entry.parentPath, entry.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** docker-registry's own garbage collection over its storage (a config naming only the storage). */
export async function distributionGarbageCollect(root: string, scratch: string): Promise<void> {
  const config = join(scratch, 'gc.yml');
  await writeFile(config, `version: 0.1\nstorage:\n  filesystem: {rootdirectory: ${JSON.stringify(root)}}\n  delete: {enabled: true}\n`);
  await run('docker-registry', ['garbage-collect', '--delete-untagged', config], { timeout: 60_000 });
}

/** porthole's garbage collection over its storage, with no grace: what nothing references goes now. */
export async function portholeGarbageCollect(root: string): Promise<void> {
  await run(process.execPath, [PORTHOLE_CLI, 'gc', '--root', root, '--untagged', '--grace', '0s', '--log-level', 'warn'], { timeout: 60_000 });
}

/** The repositories of a catalog under a prefix, and the tags each still has. */
export async function tagsUnder(registryUrl: string, prefix: string, headers: Record<string, string> = {}): Promise<Record<string, string[]>> {
  const repositories: string[] = [];
  // Page by page, following the Link header (distribution serves 100 names a page by default).
  for (let next: string | undefined = `${registryUrl}/v2/_catalog?n=100`; next !== undefined; ) {
    const response: Response = await fetch(next, { headers, signal: AbortSignal.timeout(10_000) });
    const page = (await response.json()) as { repositories?: string[] | null };
    repositories.push(...(page.repositories ?? []));
    const link = /<([^>]+)>;\s*rel="?next"?/.exec(response.headers.get('link') ?? '');
    next = link ? new URL(link[1] as string, registryUrl).href : undefined;
  }
  const tags: Record<string, string[]> = {};
  for (const repo of repositories.filter((name) => name.startsWith(`${prefix}/`))) {
    const response = await fetch(`${registryUrl}/v2/${repo}/tags/list`, { headers, signal: AbortSignal.timeout(10_000) });
    const body = response.status === 200 ? ((await response.json()) as { tags?: string[] | null }) : { tags: [] };
    tags[repo] = body.tags ?? [];
  }
  return tags;
}
