import { eachBounded } from './bounded.js';
import type { ContentLedger } from './content-ledger.js';
import { scope } from './oci.js';
import { Recorder } from './recorder.js';
import { OperationError, type RegistrySession } from './registry-session.js';

export interface CleanupReport {
  registry: string;
  manifestsDeleted: number;
  blobsDeleted: number;
  /** Deletes the registry refused (405 deletes disabled or a pull-through cache, 401/403 not allowed), by status. */
  refused: Record<string, number>;
  /** Deletes that failed otherwise (no answer, another status), with the first reasons. */
  failed: number;
  errors: string[];
}

const DELETED = [200, 202, 204, 404];
const REFUSALS = [401, 403, 405];

/**
 * Deletes what a test pushed: manifests by digest (newest first: a referrer before its subject),
 * then blobs. A registry that refuses deletes is reported, not retried; nothing here fails the run.
 */
export async function cleanUp(session: RegistrySession, ledger: ContentLedger, concurrency: number): Promise<CleanupReport> {
  const report: CleanupReport = { registry: session.url, manifestsDeleted: 0, blobsDeleted: 0, refused: {}, failed: 0, errors: [] };
  const recorder = new Recorder();
  const remove = async (kind: 'manifests' | 'blobs', repo: string, digest: string): Promise<boolean> => {
    try {
      const result = await session.send(
        { method: 'DELETE', target: `v2/${repo}/${kind}/${digest}`, scope: scope.delete(repo), what: `DELETE ${kind === 'manifests' ? 'manifest' : 'blob'}`, expect: [...DELETED, ...REFUSALS] },
        recorder,
      );
      if (REFUSALS.includes(result.status)) {
        report.refused[String(result.status)] = (report.refused[String(result.status)] ?? 0) + 1;
        return false;
      }
      return true;
    } catch (err) {
      report.failed += 1;
      const message = err instanceof OperationError ? err.message : String(err);
      if (report.errors.length < 5 && !report.errors.includes(message)) report.errors.push(message);
      return false;
    }
  };
  const manifests = [...ledger.manifests].reverse();
  // Manifests one at a time, newest first: a subject is deleted only after its referrers.
  for (const { repo, digest } of manifests) if (await remove('manifests', repo, digest)) report.manifestsDeleted += 1;
  await eachBounded(ledger.blobs.length, Math.max(1, Math.min(concurrency, 8)), async (index) => {
    const { repo, digest } = ledger.blobs[index] as { repo: string; digest: string };
    if (await remove('blobs', repo, digest)) report.blobsDeleted += 1;
  });
  return report;
}

/** How a cleanup went, in one line of the report. */
export function describeCleanup(report: CleanupReport): string {
  const refused = Object.entries(report.refused);
  const parts = [`deleted ${report.manifestsDeleted} manifests and ${report.blobsDeleted} blobs`];
  if (refused.length > 0) {
    const total = refused.reduce((sum, [, count]) => sum + count, 0);
    parts.push(`the registry refused ${total} deletes (${refused.map(([status, count]) => `${count} x ${status}`).join(', ')}): that content is left`);
  }
  if (report.failed > 0) parts.push(`${report.failed} deletes failed (${report.errors.join('; ')})`);
  return parts.join('; ');
}
