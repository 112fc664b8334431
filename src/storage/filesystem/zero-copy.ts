import { close } from 'node:fs';
import type { Socket } from 'node:net';
import { errnoError, type KernelIo } from '../../native/kernel-io.js';

/** The connection's file descriptor, when it is a plain TCP socket whose descriptor node exposes. */
export function plainSocketFd(socket: Socket): number | undefined {
  // TLS sockets encrypt in user space: sendfile would put plaintext on the wire.
  if ((socket as Socket & { encrypted?: boolean }).encrypted) return undefined;
  const fd = (socket as Socket & { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Moves `length` bytes of the file `fileFd` from `offset` to the socket with sendfile(2), waiting
 * for the socket as a write would; rejects when the connection fails or closes first. Nothing
 * else may write to the socket meanwhile. It works on a duplicate of the socket's descriptor:
 * node closes its own when the connection ends, and the number may then be reused by another
 * connection before a send already queued in the thread pool runs.
 */
export function sendFileToSocket(addon: KernelIo, socket: Socket, socketFd: number, fileFd: number, offset: number, length: number): Promise<void> {
  const outFd = addon.dup(socketFd);
  return new Promise<void>((resolve, reject) => {
    let position = offset;
    let remaining = length;
    let waiting: object | undefined;
    let sending = false;
    let settled = false;
    /** The connection closed while a send was in the pool: its result says whether everything went out. */
    let closedWhileSending = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      socket.off('close', onClose);
      if (waiting) addon.cancelWait(waiting);
      waiting = undefined;
      // A send still in the pool keeps the duplicate until it returns (see step()).
      if (!sending) close(outFd, () => undefined);
      if (err) reject(err);
      else resolve();
    };
    const onClose = (): void => {
      // A client that closes as soon as it has the last byte can be heard before the send that
      // carried that byte returns from the pool: the send decides whether the body went out.
      if (sending) closedWhileSending = true;
      else finish(errnoError('ECONNRESET', 'the connection closed during sendfile'));
    };
    const step = (): void => {
      sending = true;
      addon.send(outFd, fileFd, position, remaining, (error, sent) => {
        sending = false;
        if (settled) {
          close(outFd, () => undefined);
          return;
        }
        position += sent;
        remaining -= sent;
        if (remaining === 0) return finish();
        if (error) return finish(errnoError(error, 'sendfile failed'));
        if (closedWhileSending) return finish(errnoError('ECONNRESET', 'the connection closed during sendfile'));
        // The socket's buffer is full: wait on the event loop until the client has read some.
        waiting = addon.waitWritable(outFd, (waitError) => {
          waiting = undefined;
          if (waitError) return finish(errnoError(waitError, 'waiting for the socket failed'));
          step();
        });
      });
    };
    socket.once('close', onClose);
    if (remaining === 0) finish();
    else step();
  });
}
