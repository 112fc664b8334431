import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

interface Semver {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
}

interface LockedPackage {
  version?: string;
  engines?: { node?: string };
}

// npm's own range rules, from the semver package fastify depends on (porthole needs none of its own).
const semver = createRequire(createRequire(import.meta.url).resolve('fastify'))('semver') as Semver;

async function json<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(new URL(`../../../${path}`, import.meta.url), 'utf8')) as T;
}

describe('the Node.js versions porthole supports', () => {
  // npm ci warns (EBADENGINE) about every installed package whose engines exclude the Node.js
  // running it: the oldest Node.js that package.json accepts must satisfy every locked package.
  it('satisfy the engines of every package in package-lock.json, from the oldest one up', async () => {
    const manifest = await json<{ engines: { node: string } }>('package.json');
    const oldest = semver.minVersion(manifest.engines.node)?.version;
    assert.ok(oldest, `engines.node "${manifest.engines.node}" admits no version`);
    const lock = await json<{ packages: Record<string, LockedPackage> }>('package-lock.json');
    const refused = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.engines?.node !== undefined && !semver.satisfies(oldest, entry.engines.node))
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} requires node ${entry.engines?.node ?? ''}`);
    assert.deepEqual(refused, [], `Node.js ${oldest}, the oldest package.json accepts, is refused by`);
  });
});
