/**
 * True when a request body stream failed because the client went away (hung up, or its body
 * ended before its declared length). Such failures are the client's, not porthole's: they are
 * answered as bad input and never logged as unexpected errors.
 */
export function isClientAbort(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error).message === 'aborted';
}
