/**
 * An archive that cannot be loaded as it is (not a tar, corrupt, truncated, not an OCI layout,
 * content that does not match its digest): the message says what and where, for the operator.
 */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}
