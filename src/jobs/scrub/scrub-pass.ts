import type { JobWork } from '../job.js';
import { layout } from '../../storage/layout.js';
import type { ContentHasher, HashResult } from './content-hasher.js';
import type { Inventory, ScrubItem, ScrubKind } from './inventory.js';
import { repositoriesLinking } from './linking-repositories.js';
import { removeCorrupt } from './repair.js';

/**
 * Files hashed at once. Hashing runs on this one thread: with two files, each reading ahead (see
 * local-file-hasher.ts), the thread finds bytes ready to hash while the other file waits for its
 * open or its next read, which matters among many small files. More would only queue, and take
 * the disk from the registry serving beside the scrub.
 */
export const HASH_CONCURRENCY = 2;

/** Why a corrupt item is corrupt: the digest its bytes have, or the error reading them gave. */
type Evidence = { actual: string } | { error: string };

function inRepositories(repos: string[]): string {
  return repos.length === 0 ? ' (no repository links it)' : ` (in ${repos.join(', ')})`;
}

function repairedMessage(kind: ScrubKind, digest: string, repos: string[]): string {
  const where = repos.length === 0 ? '' : ` in ${repos.join(', ')}`;
  if (kind === 'blob') return `repaired: removed corrupt blob ${digest}; it answers 404${where} until it is pushed (or pulled through the cache) again`;
  return `repaired: removed the bytes of corrupt manifest ${digest}; it answers 404${where} until it is pushed (or pulled through the cache) again; its tags are kept`;
}

/**
 * The second pass of a scrub: hashes every listed item, reports each whose bytes do not match
 * its digest (and, with `repair`, removes it), counting as it goes into the run's tally.
 */
export class ScrubPass {
  private finished = 0;

  constructor(
    private readonly work: JobWork,
    private readonly inventory: Inventory,
    private readonly hasher: ContentHasher,
    private readonly repair: boolean,
  ) {}

  /** Resolves with whether every item was examined (false: the run was told to stop). */
  async run(): Promise<boolean> {
    const { items } = this.inventory;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!this.work.signal.aborted) {
        const item = items[next++];
        if (item === undefined) return;
        await this.examine(item);
      }
    };
    await Promise.all(Array.from({ length: HASH_CONCURRENCY }, worker));
    return this.finished === items.length;
  }

  get examined(): number {
    return this.finished;
  }

  private async examine(item: ScrubItem): Promise<void> {
    const { tally, progress } = this.work;
    const result = await this.hasher.hash(layout.blobData(item.digest), item.digest.algorithm, this.work.signal);
    tally.bytes('read', result.bytes);
    if (result.state === 'stopped') return;
    this.finished += 1;
    progress.advance(1, item.size);
    const evidence = await this.evidenceOf(item, result);
    if (evidence === 'gone') {
      tally.items(item.kind, 'skipped');
      return;
    }
    tally.items(item.kind, 'examined');
    if (evidence !== 'whole') await this.reportCorrupt(item, evidence);
  }

  /**
   * Whole, corrupt (and why), or gone: removed since it was listed (gc, a delete, a prune). A file
   * removed while it was read still reads whole through its open descriptor, so wrong bytes are
   * wrong; but an item that is no longer stored is not reported.
   */
  private async evidenceOf(item: ScrubItem, result: Exclude<HashResult, { state: 'stopped' }>): Promise<Evidence | 'whole' | 'gone'> {
    if (result.state === 'missing') return 'gone';
    if (result.state === 'hashed' && result.hex === item.digest.hex) return 'whole';
    if ((await this.work.driver.stat(layout.blobData(item.digest))) === undefined) return 'gone';
    return result.state === 'hashed' ? { actual: `${item.digest.algorithm}:${result.hex}` } : { error: result.error };
  }

  private async reportCorrupt(item: ScrubItem, evidence: Evidence): Promise<void> {
    const { digest, kind, size } = item;
    const repos = await repositoriesLinking(this.work.driver, this.inventory.repositories, digest);
    this.work.tally.items(kind, 'corrupt');
    const why = 'actual' in evidence ? `its bytes hash to ${evidence.actual}` : `its bytes cannot be read (${evidence.error})`;
    this.work.log.error({ digest: digest.value, kind, repos, size, ...evidence }, `corrupt ${kind} ${digest.value}: ${why}${inRepositories(repos)}`);
    if (this.repair) await this.repairItem(item, repos);
  }

  private async repairItem(item: ScrubItem, repos: string[]): Promise<void> {
    const { digest, kind } = item;
    const { log, tally } = this.work;
    const fields = { digest: digest.value, kind, repos };
    try {
      const { outcome, bytes } = await removeCorrupt(this.work.driver, this.hasher, digest);
      tally.bytes('read', bytes);
      if (outcome === 'removed') {
        tally.items(kind, 'repaired');
        log.warn({ ...fields, repaired: true }, repairedMessage(kind, digest.value, repos));
      } else if (outcome === 'whole') {
        log.warn({ ...fields, repaired: false }, `${kind} ${digest.value} read whole on a second look (good bytes were stored meanwhile, or the first read failed): kept`);
      } else {
        log.info({ ...fields, repaired: false }, `${kind} ${digest.value} was removed meanwhile: nothing to repair`);
      }
    } catch (err) {
      // The run has failed already (it found corruption); the next items still get their look.
      log.error({ ...fields, repaired: false, err }, `${kind} ${digest.value} could not be repaired`);
    }
  }
}
