// Builds the kernel-io addon (native/kernel-io.c, binding.gyp) with npm's own node-gyp, against
// the headers of the Node.js that runs this script, so that no header download is needed.
// A machine without python3, make or a C compiler still gets a working porthole: the build is
// skipped with a warning and blobs are served through user space (docs/storage.md).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  // npm's bundled copy, next to the npm that installed this node.
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(bundled)) return bundled;
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

if (process.platform !== 'linux') {
  console.warn('porthole: kernel-io addon skipped (sendfile is used on Linux only)');
  process.exit(0);
}
const gyp = nodeGyp();
if (!gyp) {
  console.warn('porthole: kernel-io addon skipped: node-gyp not found; blobs will be served through user space');
  process.exit(0);
}
const args = [gyp, 'rebuild'];
// The running node's own headers (official builds ship include/node), when present.
const nodeDir = join(dirname(process.execPath), '..');
if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 180_000 });
if (result.status !== 0) {
  console.warn(`porthole: kernel-io addon not built; blobs will be served through user space.\n${(result.stderr || result.stdout || String(result.error)).trim().split('\n').slice(-12).join('\n')}`);
  process.exit(0);
}
console.log('porthole: kernel-io addon built (build/Release/porthole_kernel_io.node)');
