/** Blob sizes of the tests, as zb names them: "1MB" is a mebibyte, "1GB" a gibibyte. */
export const MIB = 1024 * 1024;

export const SIZES = { '1MB': MIB, '10MB': 10 * MIB, '100MB': 100 * MIB, '1GB': 1024 * MIB } as const;

export type SizeLabel = keyof typeof SIZES;

/** Blobs up to this size are held in memory once loaded; larger ones are streamed from their file. */
export const IN_MEMORY_LIMIT = 128 * MIB;

/** The layer of the small images of the listing and manifest tests (catalog, tags, referrers). */
export const TINY_LAYER_BYTES = 1024;

/** A size in bytes as a person reads it: 1.5 MiB, 320 KiB. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
