import { S3Client } from '@aws-sdk/client-s3';

export interface S3Connection {
  region: string;
  /** A server other than AWS's (MinIO, Ceph, s3rver): its base URL. */
  endpoint?: string;
  /** Bucket in the path (http://host/bucket/key) rather than the host name, which most servers other than AWS need. */
  forcePathStyle: boolean;
  /** Keys given in the configuration; without them the SDK's own chain (the AWS_* variables, profiles, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * The SDK client for a connection. Checksums are sent and checked only where S3 requires them
 * ('WHEN_REQUIRED'): porthole verifies every blob by its digest itself, and servers other than
 * AWS's (s3rver among them) corrupt or refuse the streamed uploads the SDK's default checksums make.
 */
export function createS3Client(connection: S3Connection): S3Client {
  // The SDK warns on stderr, once per process, that versions after January 2027 will need Node
  // 22; porthole pins its version (package.json), so the warning says nothing about this one.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: connection.region,
    forcePathStyle: connection.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    // A copy: the SDK marks the object it is given (a $source key), which must not reach the config.
    ...(connection.credentials ? { credentials: { ...connection.credentials } } : {}),
  });
}
