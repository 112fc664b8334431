import { readFile } from 'node:fs/promises';
import { createPrivateKey } from 'node:crypto';
import { ConfigError } from '../../config/config-error.js';
import { pemCertificatesProblem } from '../../runtime/pem.js';
import type { ApiOptions, OptionSources } from './options.js';

/** What undici's connector takes to reach the registry over TLS. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** false with --enable-tls=false: the registry's certificate is not verified. */
  rejectUnauthorized: boolean;
}

/**
 * Reads and checks the CA, client certificate and key at start-up, so that a file that cannot be
 * read, or is not PEM, stops the exporter with exit 2 naming its option instead of failing every
 * collection later.
 */
export async function loadTlsMaterial(options: ApiOptions, sources: OptionSources): Promise<TlsMaterial> {
  const problems: string[] = [];
  const material: TlsMaterial = { rejectUnauthorized: options.enableTls };
  const read = async (name: 'ca' | 'cert' | 'key'): Promise<Buffer | undefined> => {
    const path = options[name];
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      problems.push(`${sources[name]}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return undefined;
    }
  };
  const [ca, cert, key] = await Promise.all([read('ca'), read('cert'), read('key')]);
  if (ca) {
    const bad = pemCertificatesProblem(ca.toString('utf8'));
    if (bad) problems.push(`${sources.ca}: ${options.ca} ${bad}`);
    else material.ca = ca;
  }
  if (cert) {
    if (pemCertificatesProblem(cert.toString('utf8')) !== undefined) problems.push(`${sources.cert}: ${options.cert} holds no usable PEM certificate`);
    else material.cert = cert;
  }
  if (key) {
    try {
      createPrivateKey(key);
      material.key = key;
    } catch {
      problems.push(`${sources.key}: ${options.key} holds no usable PEM private key (an encrypted key is not supported)`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return material;
}
