import { readFileSync } from 'node:fs';

/**
 * A password or token kept in a file of its own, trimmed of surrounding white space as Prometheus
 * trims its password_file and credentials_file (the newline that `echo` or an editor leaves is
 * not part of the secret), so that one file serves both Prometheus and porthole. An empty file
 * throws: it holds no secret, and sending an empty one would only fail later and less clearly.
 */
export function readSecretFile(path: string): string {
  const secret = readFileSync(path, 'utf8').trim();
  if (secret === '') throw new Error(`${path} is empty`);
  return secret;
}

/** Why a secret file cannot be used, for a message that names its key: the errno code, or what readSecretFile says. */
export function secretFileProblem(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined ? (err as Error).message : `cannot read ${path} (${code})`;
}
