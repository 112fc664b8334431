import type { Digest } from '../../core/digest.js';
import type { Driver, FileInfo } from '../driver.js';
import { layout } from '../layout.js';
import type { BlobContent, BlobInfo, RangeChooser } from '../types.js';
import { Parking, useMarkIsStale } from './parking.js';

/**
 * What a look at a blob is for: a read's answer (a HEAD or GET, which may be given from what serve
 * keeps in memory), or a decision that stores something (a manifest's references, a mount's
 * source, an upload's link), which storage itself must make: a link that garbage collection
 * dropped a moment ago, in a change serve has not heard of yet, must not be referenced.
 */
export const enum Use {
  Answer,
  Store,
}

/** Content-addressed blob data, and the per-repository links that make a blob visible there. */
export class BlobLinks {
  private readonly parking: Parking;

  constructor(private readonly driver: Driver) {
    this.parking = new Parking(driver);
  }

  async isLinked(repo: string, digest: Digest, use = Use.Store): Promise<boolean> {
    return (await this.statOf(layout.blobLink(repo, digest), use)) !== undefined;
  }

  /** For a read's answer, what the driver has kept (when it keeps anything); else storage itself. */
  private statOf(path: string, use: Use): Promise<FileInfo | undefined> {
    return use === Use.Answer && this.driver.statKept ? this.driver.statKept(path) : this.driver.stat(path);
  }

  /** Linked, or linked again from where garbage collection had parked the link (a request needs it). */
  private async linkPresent(repo: string, digest: Digest, use: Use): Promise<boolean> {
    return (await this.isLinked(repo, digest, use)) || this.parking.unparkLink(repo, digest);
  }

  /** Writes down a use of the blob (at most every USE_MARK_EVERY_MS); false when its data is not there. */
  async markUse(digest: Digest, data: FileInfo): Promise<boolean> {
    return !useMarkIsStale(data) || this.driver.touch(layout.blobData(digest));
  }

  /**
   * The blob's data, for a link just made to it (an upload, a mount): marked used, and put back
   * when a collection had parked it (the new link shows that it is in use). Undefined when gone.
   */
  async holdData(digest: Digest): Promise<FileInfo | undefined> {
    const data = await this.driver.stat(layout.blobData(digest));
    if (data && (await this.markUse(digest, data))) return data;
    return this.parking.unparkBlob(digest);
  }

  /**
   * A blob of the repository, as HEAD, a mount's source and a manifest's validation see it: the
   * use is marked first and the link looked at after, because garbage collection parks a link
   * first and looks at the mark after. So either the link is seen here after the mark was
   * written (and the collection sees the mark, and keeps the link), or the link is seen parked,
   * and this request puts it back.
   */
  stat(repo: string, digest: Digest, use = Use.Store): Promise<BlobInfo | undefined> {
    const kept = use === Use.Answer ? this.keptBlob(repo, digest) : undefined;
    return kept ? Promise.resolve(kept) : this.statInStorage(repo, digest, use);
  }

  /**
   * stat's answer for a read from what the driver keeps in memory alone, without a promise per
   * look: the data's stat with a use mark recent enough to need no new one, and the link. In the
   * same order as statInStorage's looks; undefined when either is not in memory, or the mark is due.
   */
  private keptBlob(repo: string, digest: Digest): BlobInfo | undefined {
    const driver = this.driver;
    if (!driver.statFromMemory) return undefined;
    const data = driver.statFromMemory(layout.blobData(digest));
    if (!data || useMarkIsStale(data)) return undefined;
    return driver.statFromMemory(layout.blobLink(repo, digest)) ? { digest, size: data.size } : undefined;
  }

  private async statInStorage(repo: string, digest: Digest, use: Use): Promise<BlobInfo | undefined> {
    const data = await this.statOf(layout.blobData(digest), use);
    if (data && (await this.markUse(digest, data))) return (await this.linkPresent(repo, digest, use)) ? { digest, size: data.size } : undefined;
    // No data (an unknown blob, the common miss): only a blob linked here can have had its data parked.
    if (!(await this.isLinked(repo, digest))) return undefined;
    const unparked = await this.parking.unparkBlob(digest);
    return unparked === undefined ? undefined : { digest, size: unparked.size };
  }

  /** A pull: no use mark (content a manifest references is never collected), parked content put back. */
  async open(repo: string, digest: Digest, chooseRange?: RangeChooser): Promise<BlobContent | undefined> {
    if (!(await this.linkPresent(repo, digest, Use.Answer))) return undefined;
    const data = (await this.statOf(layout.blobData(digest), Use.Answer)) ?? (await this.parking.unparkBlob(digest));
    if (!data) return undefined;
    return { digest, size: data.size, stream: this.driver.readStream(layout.blobData(digest), chooseRange?.(data.size)) };
  }

  /** Whether the blob is linked into the repository and its data is there (put back when parked). */
  async present(repo: string, digest: Digest): Promise<boolean> {
    if (!(await this.linkPresent(repo, digest, Use.Answer))) return false;
    return (await this.statOf(layout.blobData(digest), Use.Answer)) !== undefined || (await this.parking.unparkBlob(digest)) !== undefined;
  }

  /** Links durably; a link that exists already is left alone (no needless fsync). */
  async link(repo: string, digest: Digest): Promise<void> {
    if (await this.isLinked(repo, digest)) return;
    await this.driver.writeAtomic(layout.blobLink(repo, digest), digest.value);
  }

  async unlink(repo: string, digest: Digest): Promise<boolean> {
    if (!(await this.isLinked(repo, digest))) return false;
    await this.driver.remove(layout.blobLink(repo, digest));
    return true;
  }
}
