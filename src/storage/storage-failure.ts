/**
 * Why preparing the storage failed, when it is the storage's fault: a filesystem or network
 * error's code (EACCES, ECONNREFUSED), or an S3 error's name and status (NoSuchBucket, HTTP 403).
 * Undefined for anything else, which is a bug and must surface as one.
 */
export function storageFailure(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined) return code;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined) return `${(err as Error).name}, HTTP ${status}`;
  return undefined;
}
