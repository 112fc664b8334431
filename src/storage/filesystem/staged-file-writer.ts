import { randomUUID } from 'node:crypto';
import { close, constants, open as openCallback } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { ObjectWriter, WriteWatch } from '../driver.js';
import { streamIntoFile } from './batched-fd-writer.js';
import { fsyncFd } from './fsync-path.js';

const openFd = promisify(openCallback);
const closeFd = promisify(close);

/**
 * The filesystem's ObjectWriter: bytes go to a file in the staging directory, and commit fsyncs
 * it and renames it into place (`place`, which fsyncs the directory), so the object appears
 * whole or not at all; cancel deletes the staged file.
 */
export class StagedFileWriter implements ObjectWriter {
  private readonly staged: string;
  private fd: Promise<number> | undefined;
  private ended = false;
  written = 0;

  constructor(
    stagingDirectory: string,
    private readonly place: (staged: string) => Promise<void>,
  ) {
    this.staged = `${stagingDirectory}/${randomUUID()}`;
  }

  private file(): Promise<number> {
    this.fd ??= openFd(this.staged, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    return this.fd;
  }

  async append(source: Readable, watch: WriteWatch = {}): Promise<number> {
    if (this.ended) throw new Error('an object writer was used after it was committed or cancelled');
    const taken = await streamIntoFile(await this.file(), this.written, source, watch);
    this.written += taken;
    return taken;
  }

  async commit(): Promise<void> {
    if (this.ended) throw new Error('an object writer was committed twice, or after it was cancelled');
    this.ended = true;
    const fd = await this.file();
    try {
      await fsyncFd(fd);
    } finally {
      await closeFd(fd);
    }
    await this.place(this.staged);
  }

  async cancel(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.fd) await this.fd.then(closeFd).catch(() => undefined);
    await rm(this.staged, { force: true });
  }
}
