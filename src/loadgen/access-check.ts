import { CredentialsError } from './authenticator.js';
import { ExchangeError } from './http-exchange.js';
import type { RegistrySession } from './registry-session.js';

/** The registry cannot be benchmarked as asked: unreachable, not a registry, or the credentials refused. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * Before any test: GET /v2/ answers, and when it asks for credentials the ones given work (Basic
 * against /v2/ itself, bearer at the realm and then on /v2/ with the token). A wrong password
 * stops the run here, in one request or two, rather than as failures of every test.
 */
export async function checkAccess(session: RegistrySession): Promise<void> {
  const url = session.resolve('v2/');
  const shown = `${url.origin}${url.pathname}`;
  const get = async (authorization?: string) => {
    try {
      return await session.raw(url, 'GET', authorization, 64 * 1024);
    } catch (err) {
      throw new StartupError(`cannot reach ${shown}: ${err instanceof ExchangeError ? (err.timeout ? 'timed out' : err.message) : String(err)}`);
    }
  };
  const first = await get();
  if (first.status === 200) return;
  if (first.status !== 401) throw new StartupError(`${shown} answered ${first.status}: not an OCI distribution registry there (GET /v2/ should answer 200 or 401)`);
  const hint = 'give -A user:password (or set PORTHOLE_BENCH_AUTH)';
  let authorization: string | undefined;
  try {
    authorization = await session.auth.answer(first.headers['www-authenticate'], '');
  } catch (err) {
    if (err instanceof CredentialsError) throw new StartupError(err.message);
    throw new StartupError(`cannot get a token for ${shown}: ${err instanceof ExchangeError ? err.message : String(err)}`);
  }
  if (authorization === undefined) throw new StartupError(`${shown} asks for credentials (401); ${hint}`);
  const second = await get(authorization);
  if (second.status === 200) return;
  if (second.status === 401) {
    throw new StartupError(
      session.auth.hasCredentials ? `${shown} refused the credentials given (401): check the user and password of -A` : `${shown} asks for credentials (401); ${hint}`,
    );
  }
  throw new StartupError(`${shown} answered ${second.status} with credentials`);
}
