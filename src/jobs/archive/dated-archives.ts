import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What `{date}` in jobs.backup.to stands for. */
export const DATE_PLACEHOLDER = '{date}';

/** The UTC time of a run as scheduled archive names carry it: 20261128T061400Z (sorts as it reads). */
export function dateStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** The archive of a run at `date`: every `{date}` in the pattern replaced. */
export function datedArchivePath(pattern: string, date: Date): string {
  return pattern.replaceAll(DATE_PLACEHOLDER, dateStamp(date));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regular expression's source for the file names `name` (an archive name pattern) stands for, its date as `stamp`. */
function namesOf(name: string, stamp: string): string {
  return name.split(DATE_PLACEHOLDER).map(escapeRegExp).join(stamp);
}

/** A run's date as archive names carry it. */
const STAMP = /\d{8}T\d{6}Z/.source;

/**
 * Removes all but the newest `keep` archives that `pattern` names (newest by the date in the name,
 * not by mtime, which a copy or restore of the directory changes). Only a `{date}` in the file
 * name can tell runs apart; a pattern without one names a single file that each run replaces, and
 * one with `{date}` in a directory is left alone. Resolves with the paths removed.
 */
export async function pruneDatedArchives(pattern: string, keep: number): Promise<string[]> {
  const name = basename(pattern);
  if (!name.includes(DATE_PLACEHOLDER) || dirname(pattern).includes(DATE_PLACEHOLDER)) return [];
  const dir = dirname(pattern);
  const matcher = new RegExp(`^${namesOf(name, `(${STAMP})`)}$`);
  const dated = (await readdir(dir))
    .map((file) => ({ file, stamp: matcher.exec(file)?.[1] }))
    .filter((entry): entry is { file: string; stamp: string } => entry.stamp !== undefined)
    .sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0));
  const removed: string[] = [];
  for (const { file } of dated.slice(keep)) {
    const path = join(dir, file);
    await rm(path, { force: true });
    removed.push(path);
  }
  return removed;
}

/**
 * A partial file older than this is a leftover: a backup writes its partial file continuously and
 * renames or removes it as it ends, so only a killed one (SIGKILL, power loss) leaves it behind.
 * The age keeps a backup of another storage into the same directory safe while it runs.
 */
export const LEFTOVER_PARTIAL_AGE_MS = 60 * 60_000;

/**
 * Removes the partial files that killed backups to `pattern` left beside their target (see
 * archive-writer.ts's partialNameFor: `.<archive name>.<8 hex>.partial`), once older than
 * LEFTOVER_PARTIAL_AGE_MS; nothing else removes them, and each holds up to a whole backup's bytes.
 * Resolves with the paths removed.
 */
export async function removeLeftoverPartials(pattern: string, now = Date.now()): Promise<string[]> {
  const name = basename(pattern);
  const dir = dirname(pattern);
  if (dir.includes(DATE_PLACEHOLDER)) return [];
  const matcher = new RegExp(`^\\.${namesOf(name, STAMP)}\\.[0-9a-f]{8}\\.partial$`);
  const removed: string[] = [];
  for (const file of await readdir(dir).catch(() => [] as string[])) {
    if (!matcher.test(file)) continue;
    const path = join(dir, file);
    const info = await stat(path).catch(() => undefined);
    if (!info || now - info.mtimeMs < LEFTOVER_PARTIAL_AGE_MS) continue;
    await rm(path, { force: true });
    removed.push(path);
  }
  return removed;
}
