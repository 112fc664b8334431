import { createServer } from 'node:net';

/**
 * A TCP port of 127.0.0.1 that was free a moment ago (the kernel's pick for port 0), for a
 * process that must be told its port up front: Prometheus, a porthole restarted on the same port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port === 0 ? reject(new Error('no port assigned')) : resolve(port)));
    });
  });
}
