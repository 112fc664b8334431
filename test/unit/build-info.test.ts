import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkedOutCommit } from '../../src/observability/build-info.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

async function files(root: string, entries: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(entries)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

describe('the commit of the checkout', () => {
  it('follows HEAD to a loose ref, else to packed-refs, and takes a detached HEAD as it is', async () => {
    const root = await tempDir('git-loose');
    await files(root, { '.git/HEAD': 'ref: refs/heads/main\n', '.git/refs/heads/main': `${A}\n` });
    assert.equal(checkedOutCommit(root), A);
    await files(root, { '.git/HEAD': 'ref: refs/heads/packed\n', '.git/packed-refs': `# pack-refs with: peeled fully-peeled sorted\n${B} refs/heads/packed\n` });
    assert.equal(checkedOutCommit(root), B);
    await files(root, { '.git/HEAD': `${A}\n` });
    assert.equal(checkedOutCommit(root), A);
    await cleanup(root);
  });

  it('reads a worktree: HEAD in its own directory, refs in the common one', async () => {
    const root = await tempDir('git-worktree');
    await files(root, {
      'main/.git/refs/heads/feature': `${B}\n`,
      'main/.git/worktrees/wt/HEAD': 'ref: refs/heads/feature\n',
      'main/.git/worktrees/wt/commondir': '../..\n',
      'wt/.git': `gitdir: ${join(root, 'main/.git/worktrees/wt')}\n`,
    });
    assert.equal(checkedOutCommit(join(root, 'wt')), B);
    await cleanup(root);
  });

  it('knows none outside a git checkout, or when HEAD names a ref that does not exist', async () => {
    const root = await tempDir('git-none');
    assert.equal(checkedOutCommit(root), undefined);
    await files(root, { '.git/HEAD': 'ref: refs/heads/unborn\n' });
    assert.equal(checkedOutCommit(root), undefined);
    await cleanup(root);
  });
});
