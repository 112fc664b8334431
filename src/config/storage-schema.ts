import { z } from 'zod';
import { duration } from './duration-field.js';
import { durationMs } from './durations.js';

/** S3's least part size for every part of a multipart upload but the last. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's largest part. */
const MAX_PART_BYTES = 5 * 1024 ** 3;

const filesystemSchema = z
  .object({
    rootDirectory: z.string().min(1).default('./data').describe('Directory that holds blobs, repositories and upload sessions.'),
    sendfile: z
      .boolean()
      .default(true)
      .describe(
        'Send blob downloads with sendfile(2), without copying them through porthole (Linux, plain HTTP, when npm ci built the addon); false copies every byte through user space.',
      ),
  })
  .strict()
  .prefault({})
  .describe('The local-disk driver (storage.driver: filesystem). The older flat keys storage.rootDirectory and storage.sendfile are still read as these.');

const s3CredentialsSchema = z
  .object({
    accessKeyId: z.string().min(1).describe('The access key id.'),
    secretAccessKey: z.string().min(1).describe('The secret access key.'),
    sessionToken: z.string().min(1).optional().describe('A session token, for temporary credentials.'),
  })
  .strict()
  .describe('Keys to sign requests with. Absent: the AWS SDK\'s own chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, instance and container roles).');

const s3Schema = z
  .object({
    bucket: z.string().min(3).max(63).describe('The bucket that holds the registry; it must exist.'),
    region: z.string().min(1).default('us-east-1').describe('The bucket\'s region (AWS_REGION is not read: set it here).'),
    endpoint: z.url({ protocol: /^https?$/ }).optional().describe('Base URL of an S3-compatible server (MinIO, Ceph, s3rver); absent: AWS.'),
    forcePathStyle: z.boolean().default(false).describe('Address the bucket in the path (http://host/bucket/key) instead of the host name; most servers other than AWS need true.'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { message: 'must be key parts of letters, digits, ".", "_" or "-" joined by "/", without a leading or trailing "/"' })
      .refine((prefix) => !prefix.split('/').some((part) => part === '.' || part === '..'), { message: 'must not hold a "." or ".." part' })
      .optional()
      .describe('Key prefix under which everything is stored, so that one bucket can hold several registries.'),
    credentials: s3CredentialsSchema.optional(),
    partSize: z
      .number()
      .int()
      .min(MIN_PART_BYTES)
      .max(MAX_PART_BYTES)
      .default(16 * 1024 * 1024)
      .describe('Bytes per part of the multipart uploads that store large blobs; each replica holds up to one part per blob being written in memory.'),
    delimiterListing: z
      .boolean()
      .default(true)
      .describe(
        'List what is under a prefix with a delimiter, one request for S3 (default); false lists every key under it instead, for servers that answer delimited listings wrong (s3rver misses names more than one level down); slower on large stores.',
      ),
    redirect: z
      .boolean()
      .default(false)
      .describe('Answer blob GETs with a 307 redirect to a presigned S3 URL (valid 20 minutes) instead of streaming the bytes through porthole; clients must be able to reach the S3 endpoint.'),
    singleReplica: z
      .boolean()
      .default(false)
      .describe('Declare that only one porthole serves this bucket, so that it may run without redis; with redis absent and this false, startup is refused (docs/scale-out.md).'),
  })
  .strict()
  .describe('The S3 driver (storage.driver: s3): S3 or a server that speaks its protocol (docs/scale-out.md).');

export const storageSchema = z
  .object({
    driver: z.enum(['filesystem', 's3']).default('filesystem').describe('Where content is kept: filesystem (the local disk, the default) or s3.'),
    filesystem: filesystemSchema,
    s3: s3Schema.optional(),
    delete: z
      .object({
        enabled: z.boolean().default(true).describe('Allow DELETE of manifests, tags and blobs; when false they answer 405 UNSUPPORTED.'),
      })
      .strict()
      .prefault({})
      .describe('Deletion through the API.'),
    uploadExpiry: duration('24h', 'An upload session untouched for this long is removed with its data.'),
    uploadPurgeInterval: duration('10m', 'How often expired upload sessions are looked for.'),
    heartbeatInterval: duration(
      '10s',
      'How often serve records its heartbeat in the storage (replicas/<id>.json, listed by GET /api/v1/replicas); a replica silent for three intervals is unhealthy.',
    ),
  })
  .strict()
  // A heartbeat every 0 s would rewrite its file without pause, and three intervals of 0 s would
  // make every replica unhealthy.
  .refine((storage) => durationMs(storage.heartbeatInterval) >= 1_000, { path: ['heartbeatInterval'], message: 'must be at least 1s' })
  .superRefine((storage, context) => {
    if (storage.driver === 's3' && storage.s3 === undefined) context.addIssue({ code: 'custom', path: ['s3'], message: 'storage.driver is s3: storage.s3 (at least its bucket) is needed' });
  })
  .prefault({})
  .describe('Where and how content is stored.');

export type StorageConfig = z.output<typeof storageSchema>;
export type S3Config = z.output<typeof s3Schema>;
