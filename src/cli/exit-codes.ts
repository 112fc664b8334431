/** Exit statuses of the porthole commands, as documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** Unexpected failure at run time; a batch job that failed (or found corruption). */
  failure: 1,
  /** The configuration (file, flags) is invalid, or a configured feature cannot start. */
  badConfig: 2,
  /** A batch job did not run: another run of the same job holds its lock in the storage. */
  busy: 3,
} as const;
