import { setTimeout as sleep } from 'node:timers/promises';

/** One "request served" line of porthole's JSON access log. */
export interface AccessLine {
  method: string;
  route: string;
  path: string;
  status: number;
  repo?: string;
  /** The query string, without its `?` (containerd's `ns=HOST` when it pulls through a mirror). */
  query?: string;
  userAgent?: string;
}

function isAccessLine(value: unknown): value is AccessLine {
  if (typeof value !== 'object' || value === null) return false;
  const line = value as Record<string, unknown>;
  return line.module === 'http' && typeof line.method === 'string' && typeof line.route === 'string' && typeof line.status === 'number';
}

export function accessLines(output: string): AccessLine[] {
  const lines: AccessLine[] = [];
  for (const text of output.split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(text);
      if (isAccessLine(parsed)) lines.push(parsed);
    } catch {
      // A line still being written when the output was read; the next read will have it whole.
    }
  }
  return lines;
}

/**
 * The access log up to the first line that satisfies `until`. porthole logs asynchronously, so
 * the line for a client's last request can appear shortly after the client exits; lines are
 * written in order, so once `until` is seen every earlier request is in the log too.
 */
export async function accessLogUntil(output: () => string, until: (line: AccessLine) => boolean, timeoutMs = 5_000): Promise<AccessLine[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = accessLines(output());
    const end = lines.findIndex(until);
    if (end !== -1) return lines.slice(0, end + 1);
    if (Date.now() > deadline) throw new Error(`no matching access log line within ${timeoutMs} ms; last lines:\n${output().split('\n').slice(-10).join('\n')}`);
    await sleep(50);
  }
}

/** A blob mount is the only POST on the uploads route that porthole answers 201 to skopeo. */
export function isMountInto(repo: string): (line: AccessLine) => boolean {
  return (line) => line.repo === repo && line.method === 'POST' && line.route === '/v2/:name/blobs/uploads/' && line.status === 201;
}
