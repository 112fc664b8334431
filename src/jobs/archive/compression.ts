/** How an archive's tar is compressed: by its file name when writing, by its first bytes when reading. */
export type Compression = 'none' | 'gzip' | 'zstd';

const BY_EXTENSION: ReadonlyArray<[string, Compression]> = [
  ['.tar', 'none'],
  ['.tar.gz', 'gzip'],
  ['.tar.zst', 'zstd'],
];

export const ARCHIVE_EXTENSIONS = BY_EXTENSION.map(([extension]) => extension);

/** The compression an archive name asks for; undefined when it ends in none of .tar, .tar.gz, .tar.zst. */
export function compressionOfName(path: string): Compression | undefined {
  return BY_EXTENSION.find(([extension]) => path.endsWith(extension))?.[1];
}

/** Why an archive cannot be written under `path`, or undefined when it can. */
export function archiveNameProblem(path: string): string | undefined {
  if (compressionOfName(path) !== undefined) return undefined;
  return `"${path}" must end in ${ARCHIVE_EXTENSIONS.join(', ')} (the extension chooses the compression)`;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return magic.every((byte, i) => head[i] === byte);
}

/**
 * The compression of an archive from its first bytes, whatever its name says: an archive that
 * another tool wrote (skopeo writes plain tars) or that was renamed still loads.
 */
export function sniffCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/**
 * gzip level for writing: layers are compressed already, so the higher levels cost many times
 * the CPU for a few per cent; level 1 keeps .tar.gz within reach of the disk.
 */
export const GZIP_LEVEL = 1;
/** zstd's default level, on every core (zstd -T0). */
export const ZSTD_LEVEL = 3;
