/**
 * A config that cannot be used; `problems` name every key at fault. The CLIs exit 2 on it. Its
 * own module, so that what only reports a bad value (porthole-exporter's API mode) does not load
 * porthole's whole schema with it.
 */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
