import type { Digest } from '../core/digest.js';
import type { ParsedManifest } from '../core/manifest.js';
import { mapLimited } from '../storage/concurrency.js';
import type { FreedBlob } from '../storage/image-store/repository-contents.js';
import type { LocalCache } from '../storage/local-cache.js';
import { isRecent, keepClosure, neededBlobsOf, type GcContext, type GcPlan, type RepositoryPlan } from './gc-plan.js';

/** Blob directories parked per look for references: each look reads every repository again. */
const DATA_BATCH = 1000;
const REREAD_CONCURRENCY = 8;

export interface SweepResult {
  manifests: number;
  links: number;
  blobs: FreedBlob[];
  /** False when the run was stopped before the end (what it had parked was settled first). */
  complete: boolean;
}

/**
 * What the sweep decided to keep after all (used, tagged or asked for since the plan was made),
 * and so what that still needs: the plan counted on its removal.
 */
class KeptBySweep {
  readonly data = new Set<string>();
  private readonly links = new Map<string, Set<string>>();

  manifest(repo: string, digest: Digest, manifest: ParsedManifest): void {
    this.data.add(digest.value);
    const needed = neededBlobsOf(manifest, this.linksOf(repo));
    for (const blob of needed) this.data.add(blob);
  }

  linksOf(repo: string): Set<string> {
    const links = this.links.get(repo) ?? new Set<string>();
    this.links.set(repo, links);
    return links;
  }
}

/**
 * Carries out a plan while the registry serves. Each thing goes the same way: looked at again
 * (used within the grace period, or tagged, since the plan: it stays), parked under a name no
 * request uses, looked at once more now that no new use can reach it unseen, then dropped or put
 * back. A request that needs something parked puts it back itself (storage/image-store/parking.ts),
 * and the sweep then leaves it there. Uses are the marks the store writes on HEAD, mount, upload
 * and push (see parking.ts), which is why they are looked at after parking: a use either shows
 * then, or it came after the park and found the thing parked.
 */
export async function sweepCollection(context: GcContext, plan: GcPlan): Promise<SweepResult> {
  const { progress } = context;
  progress.phase('sweeping');
  const items = plan.repositories.reduce((sum, repository) => sum + repository.manifests.length + repository.links.length, 0) + plan.blobs.length;
  progress.total(items, plan.blobs.reduce((sum, blob) => sum + blob.size, 0));
  const kept = new KeptBySweep();
  const result: SweepResult = { manifests: 0, links: 0, blobs: [], complete: true };
  // Manifests first, everywhere: what stays of them decides which links and data must stay too.
  for (const repository of plan.repositories) result.manifests += await sweepManifests(context, repository, kept);
  for (const repository of plan.repositories) result.links += await sweepLinks(context, repository, kept);
  result.blobs = await sweepData(context, plan, kept);
  result.complete = !context.signal.aborted;
  return result;
}

async function sweepManifests(context: GcContext, plan: RepositoryPlan, kept: KeptBySweep): Promise<number> {
  if (plan.manifests.length === 0) return 0;
  const { contents } = context.store;
  const { repo } = plan;
  const parsed = new Map(plan.manifests.map((candidate) => [candidate.digest.value, candidate.manifest]));
  const candidates = new Set(parsed.keys());
  /** Of `digests`, those tagged since the plan or used within the grace period; once parked, also those a request put back. */
  const stillWanted = async (digests: Set<string>, parkedNow: boolean): Promise<string[]> => {
    const tagged = new Set([...(await contents.tags(repo)).values()].map((digest) => digest.value));
    const wanted: string[] = [];
    for (const { digest } of plan.manifests) {
      if (!digests.has(digest.value)) continue;
      const putBack = parkedNow && (await contents.manifestTimes(repo, digest)) !== undefined;
      if (putBack || tagged.has(digest.value) || isRecent(await contents.manifestLastUsed(repo, digest), context.rules)) wanted.push(digest.value);
    }
    return wanted;
  };

  const staying = keepClosure(await stillWanted(candidates, false), candidates, parsed);
  /** Parked candidates, with their referrers index entry taken out (to put back if they stay). */
  const parked = new Map<string, Buffer | undefined>();
  for (const { digest, manifest } of plan.manifests) {
    if (staying.has(digest.value) || context.signal.aborted) continue;
    const subject = manifest.subject?.digest;
    // Out of the referrers index before the revision is parked: a push of the same manifest writes
    // the entry again after its tags, and then finds it missing only if it was taken after that.
    const entry = subject === undefined ? undefined : await contents.takeReferrerEntry(repo, subject, digest);
    if (await contents.parkRevision(repo, digest)) parked.set(digest.value, entry);
    else if (subject !== undefined && entry !== undefined) await contents.putReferrerEntry(repo, subject, digest, entry);
  }

  // The last look, now that they are parked; what was not parked (stopped, or gone meanwhile) keeps what it lists too.
  const notParked = [...candidates].filter((digest) => !parked.has(digest));
  const stays = keepClosure([...notParked, ...(await stillWanted(new Set(parked.keys()), true))], candidates, parsed);
  let removed = 0;
  for (const { digest, manifest } of plan.manifests) {
    context.progress.advance(1);
    if (!parked.has(digest.value)) {
      kept.manifest(repo, digest, manifest);
      continue;
    }
    let stayed = true;
    if (stays.has(digest.value)) await contents.unparkRevision(repo, digest);
    else stayed = !(await contents.dropParkedRevision(repo, digest));
    const entry = parked.get(digest.value);
    const subject = manifest.subject?.digest;
    if (stayed) {
      kept.manifest(repo, digest, manifest);
      if (subject !== undefined && entry !== undefined) await contents.putReferrerEntry(repo, subject, digest, entry);
    } else {
      removed += 1;
    }
  }
  return removed;
}

async function sweepLinks(context: GcContext, plan: RepositoryPlan, kept: KeptBySweep): Promise<number> {
  const { contents } = context.store;
  const { repo } = plan;
  const needed = kept.linksOf(repo);
  const parked: Digest[] = [];
  for (const digest of plan.links) {
    const stays = context.signal.aborted || needed.has(digest.value) || isRecent(await contents.linkLastUsed(repo, digest), context.rules);
    if (!stays && (await contents.parkLink(repo, digest))) {
      parked.push(digest);
      continue;
    }
    kept.data.add(digest.value);
    context.progress.advance(1);
  }
  let removed = 0;
  for (const digest of parked) {
    const data = await contents.blobData(digest);
    if (data !== undefined && isRecent(data.modifiedMs, context.rules)) {
      await contents.unparkLink(repo, digest);
      kept.data.add(digest.value);
    } else if (await contents.dropParkedLink(repo, digest)) {
      removed += 1;
    } else {
      kept.data.add(digest.value); // put back by a request
    }
    context.progress.advance(1);
  }
  return removed;
}

async function sweepData(context: GcContext, plan: GcPlan, kept: KeptBySweep): Promise<FreedBlob[]> {
  const { store, rules } = context;
  const candidates = plan.blobs.filter((blob) => !kept.data.has(blob.digest.value));
  const freed: FreedBlob[] = [];
  for (let start = 0; start < candidates.length && !context.signal.aborted; start += DATA_BATCH) {
    const batch = candidates.slice(start, start + DATA_BATCH);
    const batchFreed = await store.contents.collectUnlessReferenced(
      batch.map((blob) => blob.digest),
      {
        // Asked again, of the repositories as they are now: a push may have linked it since the plan.
        referencedNow: () => referencedOnDisk(store, kept.data),
        inUse: (data) => isRecent(data.modifiedMs, rules),
      },
    );
    freed.push(...batchFreed);
    context.progress.advance(batch.length, batchFreed.reduce((sum, blob) => sum + blob.size, 0));
  }
  return freed;
}

/** Every digest the repositories on disk hold now (manifests and layer links), and `alsoKept`. */
async function referencedOnDisk(store: LocalCache, alsoKept: Set<string>): Promise<Set<string>> {
  const referenced = new Set(alsoKept);
  await mapLimited(await store.repositoriesOnDisk(), REREAD_CONCURRENCY, async (repo) => {
    for (const digest of await store.contents.referenced(repo)) referenced.add(digest.value);
  });
  return referenced;
}
