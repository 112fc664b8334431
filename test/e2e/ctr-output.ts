import { createHash } from 'node:crypto';

// The parts of ctr's output (containerd 1.6) that the tests look at.

/** What `ctr images pull` says it unpacked: `unpacking linux/arm64 sha256:...` names the image's target. */
export interface Unpacked {
  platform: string;
  digest: string;
}

export function unpackedBy(pullOutput: string): Unpacked[] {
  return [...pullOutput.matchAll(/^unpacking (\S+) (sha256:[0-9a-f]{64})\.\.\.$/gm)].map((match) => ({
    platform: match[1] as string,
    digest: match[2] as string,
  }));
}

/** The chain ID `ctr images pull --print-chainid` prints: the name of the image's top snapshot. */
export function printedChainId(pullOutput: string): string | undefined {
  return /^image chain ID: (sha256:[0-9a-f]{64})$/m.exec(pullOutput)?.[1];
}

/** One row of `ctr images ls`. */
export interface ImageRow {
  ref: string;
  mediaType: string;
  digest: string;
  platforms: string[];
}

/** The rows of `ctr images ls` (columns REF TYPE DIGEST SIZE PLATFORMS LABELS; a size is "1.2 KiB"). */
export function imageRows(listOutput: string): ImageRow[] {
  return listOutput
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [ref, mediaType, digest, , , platforms] = line.trim().split(/\s+/);
      if (ref === undefined || mediaType === undefined || digest === undefined || platforms === undefined) throw new Error(`not a row of ctr images ls: ${line}`);
      return { ref, mediaType, digest, platforms: platforms.split(',') };
    });
}

/** The digests `ctr content ls --quiet` lists, sorted. */
export function contentDigests(listOutput: string): string[] {
  return listOutput
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .sort();
}

/** The committed snapshots `ctr snapshots ls` lists (columns KEY PARENT KIND), by key. */
export function committedSnapshots(listOutput: string): string[] {
  return listOutput
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((columns) => columns.at(-1) === 'Committed')
    .map((columns) => columns[0] as string);
}

/**
 * The chain ID of a stack of layers (image-spec config.md): the first layer's diff ID, then
 * sha256 of "<chain ID below> <diff ID>" for each layer above. containerd names snapshots by it.
 */
export function chainIdOf(diffIds: string[]): string {
  const [first, ...rest] = diffIds;
  if (first === undefined) throw new Error('an image without layers has no chain ID');
  return rest.reduce((below, diffId) => `sha256:${createHash('sha256').update(`${below} ${diffId}`).digest('hex')}`, first);
}
