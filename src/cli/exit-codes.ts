/** Exit statuses of the porthole commands, as documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** Unexpected failure at run time. */
  failure: 1,
  /** The configuration (file, flags) is invalid, or a configured feature cannot start. */
  badConfig: 2,
} as const;
