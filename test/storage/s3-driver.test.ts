/**
 * The shared driver contract (testing/driver-suite.ts) on the S3 driver, against s3rver (see
 * helpers/s3rver-process.ts for what s3rver cannot show: signatures, conditional writes). A part
 * size of 5 MiB, S3's least, and blobs past it make the writer's multipart path run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { startS3rver, type S3rverProcess } from '../helpers/s3rver-process.js';
import { driverSuite } from './testing/driver-suite.js';

const PART_SIZE = 5 * 1024 * 1024;
let server: S3rverProcess | undefined;
let buckets = 0;

async function s3(): Promise<S3rverProcess> {
  server ??= await startS3rver();
  return server;
}

async function openDriver(prefix?: string, delimiterListing = true): Promise<{ driver: S3Driver; dispose(): Promise<void> }> {
  const running = await s3();
  const bucket = `suite-${(buckets += 1)}`;
  await running.createBucket(bucket);
  const client = createS3Client(running.connection);
  return { driver: new S3Driver({ client, bucket, partSize: PART_SIZE, delimiterListing, ...(prefix ? { prefix } : {}) }), dispose: async () => client.destroy() };
}

after(async () => {
  await server?.stop();
});

const s3rverCan = { fileOperations: false, exclusiveCreation: false, atomicOverwrites: false };
driverSuite('s3 (s3rver, delimited listing)', () => openDriver(), { ...s3rverCan, deepListing: false });
driverSuite('s3 (s3rver, under a prefix, flat listing)', () => openDriver('registry/one', false), { ...s3rverCan, deepListing: true });

describe('S3 driver beyond the shared contract', () => {
  let subject: { driver: S3Driver; dispose(): Promise<void> };
  before(async () => {
    subject = await openDriver();
  });
  after(async () => {
    await subject.dispose();
  });

  it('a writer past one part goes up as a multipart upload, whole and in order, appended in uneven pieces', async () => {
    const bytes = randomBytes(PART_SIZE * 2 + 12_345);
    const writer = subject.driver.writer('big/blob');
    const cuts = [0, 1, 3_000_000, PART_SIZE + 7, bytes.length];
    for (let index = 1; index < cuts.length; index += 1) await writer.append(Readable.from([bytes.subarray(cuts[index - 1], cuts[index])]));
    assert.equal(await subject.driver.stat('big/blob'), undefined, 'nothing before the commit');
    await writer.commit();
    assert.ok((await buffer(subject.driver.readStream('big/blob'))).equals(bytes));
    const range = await buffer(subject.driver.readStream('big/blob', { start: PART_SIZE - 10, end: PART_SIZE + 10 }));
    assert.ok(range.equals(bytes.subarray(PART_SIZE - 10, PART_SIZE + 11)), 'a range across the parts');
  });

  it('init fails for a bucket that does not exist', async () => {
    const running = await s3();
    const driver = new S3Driver({ client: createS3Client(running.connection), bucket: 'never-made', partSize: PART_SIZE });
    await assert.rejects(driver.init());
  });
});
