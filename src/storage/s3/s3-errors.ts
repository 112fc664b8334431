/** What the SDK's failures carry that porthole looks at. */
interface S3Failure {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Whether an S3 call failed because there was no object (or bucket key) there: 404, NoSuchKey, NotFound. */
export function isS3NotFound(err: unknown): boolean {
  const failure = err as S3Failure | undefined;
  return failure?.$metadata?.httpStatusCode === 404 || failure?.name === 'NoSuchKey' || failure?.name === 'NotFound' || failure?.Code === 'NoSuchKey';
}

/** Whether a conditional write was refused because the object exists (412, PreconditionFailed). */
export function isS3PreconditionFailed(err: unknown): boolean {
  const failure = err as S3Failure | undefined;
  return failure?.$metadata?.httpStatusCode === 412 || failure?.name === 'PreconditionFailed';
}
