import { ConfigError } from './config-error.js';

/** Keys that moved when the storage section learned to choose its driver: old place, new place. */
const MOVED = [
  ['rootDirectory', 'filesystem'],
  ['sendfile', 'filesystem'],
] as const;

type Section = Record<string, unknown>;

function isSection(value: unknown): value is Section {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A copy of a raw config with keys from before a move read at their new place, so that files
 * written for an older porthole keep working (storage.rootDirectory is now
 * storage.filesystem.rootDirectory). A key given at both places is refused: which one was meant?
 */
export function withMovedKeys(raw: unknown): unknown {
  if (!isSection(raw) || !isSection(raw.storage)) return raw;
  const storage: Section = { ...raw.storage };
  for (const [key, section] of MOVED) {
    if (!(key in storage)) continue;
    const target: Section = isSection(storage[section]) ? { ...(storage[section] as Section) } : {};
    if (key in target) throw new ConfigError([`storage.${key}: given twice, here and as storage.${section}.${key}; keep only storage.${section}.${key}`]);
    target[key] = storage[key];
    delete storage[key];
    storage[section] = target;
  }
  return { ...raw, storage };
}
