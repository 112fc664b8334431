/**
 * The storage driver contract as tests (issue 18: "one shared driver test suite that every driver
 * passes"): what the image store relies on from any driver, run against each driver by a
 * `*.test.ts` of its own. The first part is what an object store can do as well as a disk
 * (whole-object reads and atomic writes, writers committed or cancelled as a whole, ranged
 * reads, listing a prefix, removal, moves, use marks, exclusive creation, commit); the second is
 * what only a filesystem can do (Driver.files: positioned writes and truncation, following a
 * growing file, renaming a directory, directory times), run for a driver that declares it.
 * Following a file that is still being written has its own tests (test/unit/follow-stream.test.ts).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Driver, FileOperations } from '../../../src/storage/driver.js';
import { HandFedFile } from '../../helpers/hand-fed-file.js';

export interface DriverUnderTest {
  driver: Driver;
  /** Removes whatever the driver stored (its root, its bucket). */
  dispose(): Promise<void>;
}

/** What a driver can do beyond an object store's operations, and what the server under test can show. */
export interface DriverCapabilities {
  /** The driver has Driver.files (and must: the suite checks it is there exactly when declared). */
  fileOperations: boolean;
  /**
   * createExclusive's atomicity can be checked: false where the server under test ignores a
   * conditional write (s3rver ignores If-None-Match on PUT; S3 itself honours it).
   */
  exclusiveCreation: boolean;
  /**
   * A read during an overwrite can be checked to see one version whole: false where the server
   * under test writes an object in place (s3rver truncates the file and writes it again, with its
   * size kept apart); S3 replaces an object atomically.
   */
  atomicOverwrites: boolean;
  /**
   * A listing can be checked to name a prefix whose objects lie two levels down: false where the
   * server under test cannot answer it (s3rver's delimited listings stop one level down).
   */
  deepListing: boolean;
}

/** The driver's file operations, which the tests that use them declared. */
function files(driver: Driver): FileOperations {
  assert.ok(driver.files, 'declared with file operations but has none');
  return driver.files;
}

/**
 * `body` written through the driver into `file`'s place from its start, each step told to the
 * file's followers, but no further than `shownUpTo` bytes (the rest is shown by the test).
 */
function fill(driver: Driver, file: HandFedFile, body: Readable, shownUpTo = Number.POSITIVE_INFINITY): Promise<number> {
  return files(driver).writeStreamAt(file.where, 0, body, {
    onWritten: (written) => {
      file.written = Math.min(written, shownUpTo);
      file.announce();
    },
  });
}

/** Every byte value, and then some: what a blob may hold. */
function binary(size: number, seed = 0): Buffer {
  const bytes = Buffer.alloc(size);
  for (let index = 0; index < size; index += 1) bytes[index] = (index * 31 + seed) & 0xff;
  return bytes;
}

export function driverSuite(name: string, open: () => Promise<DriverUnderTest>, capabilities: DriverCapabilities): void {
  describe(`storage driver contract: ${name}`, () => {
    let subject: DriverUnderTest;
    let driver: Driver;
    /** A fresh key prefix per test, so that tests never see each other's objects. */
    let counter = 0;
    const fresh = (): string => `suite/${(counter += 1)}`;

    before(async () => {
      subject = await open();
      driver = subject.driver;
      await driver.init();
    });
    after(async () => {
      await subject.dispose();
    });

    it(`has file operations exactly when declared (${capabilities.fileOperations ? 'with' : 'without'})`, () => {
      assert.equal(driver.files !== undefined, capabilities.fileOperations);
    });

    it('absent: read gives undefined, stat undefined, list of a prefix with nothing under it []', async () => {
      const base = fresh();
      assert.equal(await driver.read(`${base}/nothing`), undefined);
      assert.equal(await driver.stat(`${base}/nothing`), undefined);
      assert.deepEqual(await driver.list(base), []);
    });

    it('writeAtomic then read: the same bytes, every byte value, and stat gives their size', async () => {
      const base = fresh();
      const bytes = binary(70_000);
      await driver.writeAtomic(`${base}/blob`, bytes);
      assert.deepEqual(await driver.read(`${base}/blob`), bytes);
      const info = await driver.stat(`${base}/blob`);
      assert.equal(info?.size, bytes.length);
      assert.ok(info !== undefined && Math.abs(info.modifiedMs - Date.now()) < 60_000, 'a modification time of about now');
      await driver.writeAtomic(`${base}/text`, 'café ✓');
      assert.equal((await driver.read(`${base}/text`))?.toString('utf8'), 'café ✓');
      await driver.writeAtomic(`${base}/scratch`, 'not durable', { durable: false });
      assert.equal((await driver.read(`${base}/scratch`))?.toString(), 'not durable');
    });

    it('writeAtomic replaces as a whole: readers during rewrites see one whole version or the other', { skip: !capabilities.atomicOverwrites && 'the server under test cannot show it' }, async () => {
      const key = `${fresh()}/tag`;
      const small = Buffer.from('sha256:' + 'a'.repeat(64));
      const large = binary(200_000, 7);
      await driver.writeAtomic(key, small);
      let writing = true;
      const readers = Array.from({ length: 4 }, async () => {
        while (writing) {
          const bytes = await driver.read(key);
          assert.ok(bytes !== undefined, 'never absent while it is being replaced');
          assert.ok(bytes.equals(small) || bytes.equals(large), `a torn read of ${bytes.length} bytes`);
        }
      });
      for (let round = 0; round < 30; round += 1) await driver.writeAtomic(key, round % 2 === 0 ? large : small, { durable: false });
      writing = false;
      await Promise.all(readers);
    });

    it('list gives the names directly under a prefix, files and deeper prefixes alike, once each', async () => {
      const base = fresh();
      await driver.writeAtomic(`${base}/a/one`, '1');
      await driver.writeAtomic(`${base}/a/two`, '2');
      await driver.writeAtomic(`${base}/a/deeper/three`, '3');
      await driver.writeAtomic(`${base}/a/deeper/four`, '4');
      await driver.writeAtomic(`${base}/b`, 'b');
      assert.deepEqual((await driver.list(`${base}/a`)).sort(), ['deeper', 'one', 'two']);
      assert.deepEqual((await driver.list(base)).sort(), ['a', 'b']);
      if (capabilities.deepListing) {
        await driver.writeAtomic(`${base}/c/two/levels/down`, 'd');
        assert.deepEqual((await driver.list(base)).sort(), ['a', 'b', 'c']);
      }
    });

    it('remove takes a file or everything under a prefix; removing what is absent is no error', async () => {
      const base = fresh();
      await driver.writeAtomic(`${base}/keep`, 'k');
      await driver.writeAtomic(`${base}/file`, 'f');
      await driver.writeAtomic(`${base}/dir/x`, 'x');
      await driver.writeAtomic(`${base}/dir/sub/y`, 'y');
      await driver.remove(`${base}/file`);
      await driver.remove(`${base}/dir`);
      await driver.remove(`${base}/never-there`);
      assert.equal(await driver.read(`${base}/file`), undefined);
      assert.equal(await driver.read(`${base}/dir/sub/y`), undefined);
      assert.deepEqual(await driver.list(base), ['keep']);
    });

    it('readStream: the whole object, or an inclusive byte range of it', async () => {
      const key = `${fresh()}/blob`;
      const bytes = binary(300_000, 3);
      await driver.writeAtomic(key, bytes);
      assert.deepEqual(await buffer(driver.readStream(key)), bytes);
      for (const [start, end] of [
        [0, 0],
        [1, 1],
        [10, 99_999],
        [299_999, 299_999],
        [65_535, 65_537],
      ] as const) {
        assert.deepEqual(await buffer(driver.readStream(key, { start, end })), bytes.subarray(start, end + 1), `bytes ${start}-${end}`);
      }
    });

    it('readStream of an absent object fails as a stream, not by throwing', async () => {
      const stream = driver.readStream(`${fresh()}/absent`);
      await assert.rejects(buffer(stream));
    });

    it('a writer shows nothing before its commit, then everything appended, at once; a cancelled one leaves nothing', async () => {
      const base = fresh();
      const parts = [binary(40_000, 1), binary(1, 2), binary(90_000, 3)];
      const writer = driver.writer(`${base}/whole`);
      const seen: number[] = [];
      for (const part of parts) {
        assert.equal(await writer.append(Readable.from([part.subarray(0, 7), part.subarray(7)]), { onChunk: (chunk) => seen.push(chunk.length) }), part.length);
        assert.equal(await driver.stat(`${base}/whole`), undefined, 'nothing visible before the commit');
      }
      assert.equal(writer.written, 40_000 + 1 + 90_000);
      assert.equal(seen.reduce((sum, n) => sum + n, 0), writer.written, 'every chunk shown on its way');
      await writer.commit();
      assert.deepEqual(await driver.read(`${base}/whole`), Buffer.concat(parts));
      assert.deepEqual(await driver.list(base), ['whole'], 'nothing left beside it');

      const replacing = driver.writer(`${base}/whole`);
      await replacing.append(Readable.from([Buffer.from('new')]));
      await replacing.commit();
      assert.equal((await driver.read(`${base}/whole`))?.toString(), 'new', 'a commit replaces what was there');

      const cancelled = driver.writer(`${base}/cancelled`);
      await cancelled.append(Readable.from([binary(10_000)]));
      await cancelled.cancel();
      const broken = driver.writer(`${base}/broken`);
      const failing = Readable.from(
        (async function* () {
          yield binary(10_000, 9);
          throw new Error('client went away');
        })(),
      );
      await assert.rejects(broken.append(failing), /client went away/);
      await broken.cancel();
      assert.equal(await driver.stat(`${base}/cancelled`), undefined);
      assert.equal(await driver.stat(`${base}/broken`), undefined);
      assert.deepEqual(await driver.list(base), ['whole']);

      const empty = driver.writer(`${base}/empty`);
      await empty.commit();
      assert.equal((await driver.stat(`${base}/empty`))?.size, 0, 'a writer given nothing commits an empty object');
    });

    it('move takes one object to another key, replacing what is there; nothing at the source is ENOENT', async () => {
      const base = fresh();
      await driver.writeAtomic(`${base}/a`, 'a');
      await driver.writeAtomic(`${base}/b`, 'b');
      await driver.move(`${base}/a`, `${base}/deeper/c`);
      assert.equal((await driver.read(`${base}/deeper/c`))?.toString(), 'a');
      assert.equal(await driver.read(`${base}/a`), undefined);
      await driver.move(`${base}/b`, `${base}/deeper/c`);
      assert.equal((await driver.read(`${base}/deeper/c`))?.toString(), 'b');
      await assert.rejects(driver.move(`${base}/gone`, `${base}/d`), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
      assert.equal(await driver.stat(`${base}/d`), undefined);
    });

    it('touch marks an object used now, and says false for one that is not there', async () => {
      const key = `${fresh()}/used`;
      assert.equal(await driver.touch(key), false);
      await driver.writeAtomic(key, 'still the same bytes');
      const before = (await driver.stat(key))?.modifiedMs ?? 0;
      await sleep(20);
      assert.equal(await driver.touch(key), true);
      assert.ok(((await driver.stat(key))?.modifiedMs ?? 0) > before);
      assert.equal((await driver.read(key))?.toString(), 'still the same bytes');
    });

    it('move and commit keep an object\'s date, as a rename and a hard link keep a file\'s (garbage collection parks content by moving it)', async () => {
      const base = fresh();
      await driver.writeAtomic(`${base}/old`, 'old');
      const written = (await driver.stat(`${base}/old`))?.modifiedMs ?? 0;
      await sleep(1100);
      await driver.move(`${base}/old`, `${base}/moved`);
      assert.equal((await driver.stat(`${base}/moved`))?.modifiedMs, written);
      await driver.commit(`${base}/moved`, `${base}/committed`);
      assert.equal((await driver.stat(`${base}/committed`))?.modifiedMs, written);
    });

    it('stat is for objects: a prefix with objects under it has none', async () => {
      const base = fresh();
      await driver.writeAtomic(`${base}/dir/x`, 'x');
      assert.equal(await driver.stat(`${base}/dir`), undefined);
    });

    it('createExclusive: of ten at once exactly one wins, and what is stored is the winner\'s', async () => {
      const key = `${fresh()}/lock`;
      if (capabilities.exclusiveCreation) {
        const outcomes = await Promise.all(Array.from({ length: 10 }, (_, index) => driver.createExclusive(key, `holder ${index}`)));
        const winners = outcomes.flatMap((won, index) => (won ? [index] : []));
        assert.equal(winners.length, 1);
        assert.equal((await driver.read(key))?.toString(), `holder ${winners[0]}`);
      } else {
        assert.equal(await driver.createExclusive(key, 'first'), true);
      }
      assert.equal(await driver.createExclusive(key, 'late'), false);
      await driver.remove(key);
      assert.equal(await driver.createExclusive(key, 'after release'), true);
    });

    it('commit gives the content its home and leaves the source; a home that exists is kept as it is', async () => {
      const base = fresh();
      const bytes = binary(50_000, 11);
      await driver.writeAtomic(`${base}/uploads/session/data`, bytes);
      await driver.commit(`${base}/uploads/session/data`, `${base}/blobs/home`);
      assert.deepEqual(await driver.read(`${base}/blobs/home`), bytes);
      assert.deepEqual(await driver.read(`${base}/uploads/session/data`), bytes, 'the source stays until its caller removes it');
      await driver.writeAtomic(`${base}/uploads/other/data`, bytes);
      await driver.commit(`${base}/uploads/other/data`, `${base}/blobs/home`);
      assert.deepEqual(await driver.read(`${base}/blobs/home`), bytes);
    });

    it('keys that could leave the store are refused, and nothing is written', async () => {
      const base = fresh();
      for (const key of [`${base}/../escaped`, `${base}//double`, '../outside', `${base}/`]) {
        await assert.rejects(driver.writeAtomic(key, 'x'), `writeAtomic(${JSON.stringify(key)})`);
        await assert.rejects(driver.read(key), `read(${JSON.stringify(key)})`);
      }
      // Where each would have landed had its parts been taken as a filesystem takes them.
      assert.equal(await driver.read('suite/escaped'), undefined);
      assert.equal(await driver.stat(base), undefined);
      assert.deepEqual(await driver.list(base), []);
    });

    if (capabilities.fileOperations) {
      it('a directory (a prefix with something under it) has a time, dated again when an entry comes or goes', async () => {
        const base = fresh();
        await driver.writeAtomic(`${base}/tags/latest`, 'a');
        const first = await files(driver).directoryModified(`${base}/tags`);
        assert.ok(first !== undefined, 'a directory with an entry is there');
        await sleep(30);
        await driver.writeAtomic(`${base}/tags/v1`, 'b');
        const added = await files(driver).directoryModified(`${base}/tags`);
        assert.ok(added !== undefined && added > first, 'an entry added dates it again');
        await sleep(30);
        await driver.remove(`${base}/tags/latest`);
        const removed = await files(driver).directoryModified(`${base}/tags`);
        assert.ok(removed !== undefined && removed > added, 'an entry removed dates it again');
      });

      it('writeStreamAt appends at an offset, tells its progress, and a failed chunk is cut back to where it began', async () => {
        const key = `${fresh()}/upload`;
        const first = binary(100_000, 1);
        const second = binary(70_000, 2);
        const seen: number[] = [];
        assert.equal(await files(driver).writeStreamAt(key, 0, Readable.from([first.subarray(0, 40_000), first.subarray(40_000)]), { onChunk: (chunk) => seen.push(chunk.length) }), first.length);
        assert.deepEqual(seen, [40_000, 60_000]);
        assert.equal(await files(driver).writeStreamAt(key, first.length, Readable.from([second])), second.length);
        assert.deepEqual(await driver.read(key), Buffer.concat([first, second]));
        const failing = Readable.from(
          (async function* () {
            yield binary(10_000, 9);
            throw new Error('client went away');
          })(),
        );
        await assert.rejects(files(driver).writeStreamAt(key, first.length + second.length, failing), /client went away/);
        assert.equal((await driver.stat(key))?.size, first.length + second.length, 'the broken chunk is not part of the data');
        await files(driver).truncate(key, 10);
        assert.deepEqual(await driver.read(key), first.subarray(0, 10));
      });

      it('followStream reads a file as it is written, across its move to its final place, and fails with the writer', async () => {
        const base = fresh();
        const parts = [binary(30_000, 1), binary(50_000, 2), binary(20_000, 3)];
        const whole = Buffer.concat(parts);
        const file = new HandFedFile(`${base}/uploads/data`);
        const body = new PassThrough();
        // The last part is written before the move but shown to the reader only after it, so the
        // reader must find it in the file's final place.
        const shownBeforeMove = whole.length - parts[2]!.length;
        const writing = fill(driver, file, body, shownBeforeMove);
        const reading = buffer(files(driver).followStream(file, { start: 10, end: whole.length - 1 }));
        for (const part of parts) {
          body.write(part);
          await sleep(10);
        }
        body.end();
        await writing;
        await driver.commit(file.where, `${base}/blobs/home`);
        file.where = `${base}/blobs/home`;
        await driver.remove(`${base}/uploads`);
        file.written = whole.length;
        file.done = true;
        file.announce();
        assert.deepEqual(await reading, whole.subarray(10));

        const broken = new HandFedFile(`${base}/uploads/broken`);
        const brokenBody = new PassThrough();
        const brokenWrite = fill(driver, broken, brokenBody);
        const brokenRead = buffer(files(driver).followStream(broken, { start: 0, end: 99_999 }));
        brokenBody.write(binary(1_000));
        await sleep(10);
        brokenBody.destroy(new Error('upstream went away'));
        await assert.rejects(brokenWrite);
        broken.error = new Error('upstream went away');
        broken.announce();
        await assert.rejects(brokenRead, /upstream went away/);
      });

      it('renameDirectory moves a whole directory at once, and refuses a target that is not empty', async () => {
        const base = fresh();
        await driver.writeAtomic(`${base}/from/a`, 'a');
        await driver.writeAtomic(`${base}/from/sub/b`, 'b');
        await files(driver).renameDirectory(`${base}/from`, `${base}/to`);
        assert.equal((await driver.read(`${base}/to/sub/b`))?.toString(), 'b');
        assert.deepEqual(await driver.list(`${base}/from`), []);
        await driver.writeAtomic(`${base}/other/c`, 'c');
        await assert.rejects(files(driver).renameDirectory(`${base}/other`, `${base}/to`));
      });
    }
  });
}
