import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

// dist/test/unit -> the checkout.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? testFiles(path) : path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('README, as a new user follows it', () => {
  it('says how to get the OCI layout its push example copies from', () => {
    const push = /oci:(\S+) docker:\/\/127\.0\.0\.1:5000/.exec(README);
    assert.ok(push, 'the README pushes from an OCI layout');
    const layout = push[1] ?? '';
    assert.match(README, new RegExp(`skopeo copy [^\\n]*docker://\\S+ oci:${literal(layout)}`), 'from a registry');
    assert.match(README, new RegExp(`podman push \\S+ oci:${literal(layout)}`), "from podman's images");
  });

  it('says how to run one test file, with a path part that names one', () => {
    const runs = [...README.matchAll(/node scripts\/run-tests\.mjs ([^#\n]+)/g)].flatMap((match) => (match[1] ?? '').trim().split(/\s+/));
    assert.ok(runs.length > 0, 'the README runs a test file by itself');
    const files = testFiles(join(REPO_ROOT, 'test'));
    for (const part of runs) assert.ok(files.some((file) => file.includes(part)), `no test file's path contains "${part}"`);
  });

  it('names the oldest Node.js that package.json accepts', () => {
    const { engines } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const oldest = /^>=\s*(\d+\.\d+\.\d+)$/.exec(engines.node)?.[1];
    assert.ok(oldest, `engines.node "${engines.node}" is of the form >=x.y.z`);
    assert.match(README, new RegExp(`Node\\.js ${literal(oldest)} or later`));
  });
});
