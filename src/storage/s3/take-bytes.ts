import { Transform } from 'node:stream';

/** Passes the first `limit` bytes of a stream on and ends there, dropping the rest. */
export function takeBytes(limit: number): Transform {
  let left = limit;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (left > 0) {
        const kept = chunk.length <= left ? chunk : chunk.subarray(0, left);
        left -= kept.length;
        this.push(kept);
      }
      done();
    },
  });
}
