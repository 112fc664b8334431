import type { Server, ServerOptions } from 'node:https';
import { ConfigError } from '../config/load.js';
import type { TlsConfig } from '../config/schema.js';
import type { PortholeLogger } from '../observability/logger.js';
import { watchFileChanges } from '../runtime/file-changes.js';
import { httpsServerOptions, readTlsMaterial, secureContextOptions, type TlsMaterial } from './tls.js';


/** Told of every certificate put in force, the first included (the expiry gauge). */
export type CertificateLoaded = (material: TlsMaterial) => void;

function described(material: TlsMaterial): Record<string, string> {
  const { leaf } = material;
  return { subject: leaf.subject.replace(/\n/g, ', '), serial: leaf.serialNumber, notAfter: new Date(leaf.validTo).toISOString(), fingerprint256: leaf.fingerprint256 };
}

/**
 * The server's certificate, key and client CA (http.tls), re-read on SIGHUP (`reload`) and when
 * one of the files changes, so that a renewed certificate is served without a restart. A new
 * secure context applies to new connections only: connections already open keep theirs, and
 * nothing is dropped. A new set that does not load (a key of another certificate, a file half
 * written) leaves the last good one in force and says why in the log; the next change tries again.
 */
export class ServerCertificate {
  private server: Server | undefined;
  private readonly paths: string[];
  /** Stop watching each file. */
  private readonly unwatch: Array<() => void> = [];

  private constructor(
    private readonly tls: TlsConfig,
    private material: TlsMaterial,
    private readonly log: PortholeLogger,
    private readonly loaded: CertificateLoaded,
  ) {
    this.paths = [...new Set([tls.certificate, tls.key, ...(tls.clientCA === undefined ? [] : [tls.clientCA])])];
    loaded(material);
    this.warnIfExpired();
  }

  /** Reads the files of http.tls; any that cannot be served is a ConfigError naming its key. */
  static load(tls: TlsConfig, log: PortholeLogger, loaded: CertificateLoaded): ServerCertificate {
    return new ServerCertificate(tls, readTlsMaterial(tls), log, loaded);
  }

  /** The options to create the HTTPS server with. */
  get serverOptions(): ServerOptions {
    return httpsServerOptions(this.tls, this.material);
  }

  /** The certificate in force. */
  get current(): TlsMaterial {
    return this.material;
  }

  /** From now on, changes of the files (and reloads) go to `server`'s new connections. */
  serve(server: Server): void {
    this.server = server;
    for (const path of this.paths) this.unwatch.push(watchFileChanges(path, () => this.reload('file changed')));
  }

  /** Reads the files again and serves what they hold from the next connection on; false when they do not load. */
  reload(reason: string): boolean {
    let material: TlsMaterial;
    try {
      material = readTlsMaterial(this.tls);
    } catch (err) {
      const problem = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      this.log.error({ reason, problem, ...described(this.material) }, 'TLS certificate could not be re-read; the one loaded before stays in force');
      return false;
    }
    this.server?.setSecureContext(secureContextOptions(this.tls, material));
    this.material = material;
    this.loaded(material);
    this.log.info({ reason, ...described(material) }, 'TLS certificate loaded');
    this.warnIfExpired();
    return true;
  }

  private warnIfExpired(): void {
    if (Date.parse(this.material.leaf.validTo) <= Date.now()) this.log.warn(described(this.material), 'the TLS server certificate has expired');
  }

  close(): void {
    for (const stop of this.unwatch.splice(0)) stop();
  }
}
