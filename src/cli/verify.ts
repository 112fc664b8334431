import { checkHtpasswdFile } from '../auth/htpasswd.js';
import { checkTokenFile } from '../auth/token-file.js';
import { checkTokenKeys } from '../auth/token-keys.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { fromEnvironment } from '../config/environment.js';
import { metricsSettings } from '../config/schema.js';
import { readTlsMaterial } from '../http/tls.js';
import { EXIT } from './exit-codes.js';

/**
 * `porthole verify FILE`: every problem with the key that has it (exit 2), or "ok". The file is
 * read as serve would read it, with the PORTHOLE_* variables over it; a variable that sets nothing
 * is reported, without failing the check.
 */
export async function verify(file: string): Promise<number> {
  try {
    const environment = fromEnvironment(process.env);
    for (const { variable, suggestion } of environment.ignored) {
      process.stderr.write(`warning: ${variable} is not a configuration variable: ignored${suggestion ? ` (did you mean ${suggestion}?)` : ''}\n`);
    }
    const config = await loadConfig(file, {}, environment);
    // Files the config names are read at start-up; verify reads them too.
    if (config.auth?.htpasswd) checkHtpasswdFile(config.auth.htpasswd.path, 'auth.htpasswd.path');
    if (config.auth?.token) checkTokenKeys(config.auth.token);
    const tokenFile = metricsSettings(config).auth?.bearerTokenFile;
    if (tokenFile !== undefined) checkTokenFile(tokenFile, 'extensions.metrics.auth.bearerTokenFile');
    if (config.http.tls) readTlsMaterial(config.http.tls);
    process.stdout.write('ok\n');
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${file}: ${err.problems.length} problem(s)\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
    return EXIT.badConfig;
  }
}
