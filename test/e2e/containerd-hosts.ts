import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A hosts directory for `ctr images pull --hosts-dir DIR` (containerd's docs/hosts.md): pulls of
 * `registry/...` go to `mirror` first, which may resolve tags and pull, and to `server` only
 * when the mirror fails. containerd tells a mirror which registry it stands in for with
 * `?ns=registry` on every request.
 */
export async function writeMirrorHosts(dir: string, registry: string, server: string, mirror: string): Promise<string> {
  await mkdir(join(dir, registry), { recursive: true });
  await writeFile(join(dir, registry, 'hosts.toml'), [`server = "${server}"`, '', `[host."${mirror}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'));
  return dir;
}
