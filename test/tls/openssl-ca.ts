import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../e2e/run-command.js';

/** A certificate and its private key, as PEM files. */
export interface KeyPair {
  certificate: string;
  key: string;
}

export interface IssueOptions {
  /** The subject's CN; none when omitted (the subject is then only an O). */
  cn?: string;
  /** serverAuth (with subjectAltName) or clientAuth. */
  usage: 'server' | 'client';
  /** subjectAltName entries, e.g. `IP:127.0.0.1`, `DNS:robot.example`. */
  san?: string[];
  days?: number;
  /** Sign a new certificate for this existing key instead of a new one (a renewal that keeps its key). */
  key?: string;
}

/** EC P-256: a key costs milliseconds, where RSA costs a tenth of a second or more. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(args: string[]): Promise<unknown> {
  return runCommand('openssl', args, { timeoutMs: 20_000 });
}

/**
 * A certificate authority made with Debian's openssl, as an operator would (docs/tls.md has the
 * same commands): a self-signed CA, and certificates it signs for servers and clients. Expired
 * ones come from `openssl ca`, whose -startdate/-enddate put the validity in the past
 * (`openssl x509 -req` only counts days forward from now in OpenSSL 3.0).
 */
export class OpensslCa implements KeyPair {
  private issued = 0;

  private constructor(
    private readonly dir: string,
    readonly certificate: string,
    readonly key: string,
  ) {}

  static async create(dir: string, name: string): Promise<OpensslCa> {
    await mkdir(dir, { recursive: true });
    const certificate = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    await openssl(['req', '-x509', ...NEW_KEY, '-keyout', key, '-out', certificate, '-days', '3650', '-subj', `/CN=${name}`]);
    return new OpensslCa(dir, certificate, key);
  }

  /** A certificate signed by this CA for `name` (files `name.crt` and `name.key`). */
  async issue(name: string, options: IssueOptions): Promise<KeyPair> {
    const { request, key } = await this.request(name, options);
    const extensions = join(this.dir, `${name}.ext`);
    await writeFile(extensions, this.extensions(options).join('\n') + '\n');
    const certificate = join(this.dir, `${name}.crt`);
    const serial = String(Date.now() * 1000 + ++this.issued);
    await openssl(['x509', '-req', '-in', request, '-CA', this.certificate, '-CAkey', this.key, '-set_serial', serial, '-days', String(options.days ?? 30), '-extfile', extensions, '-out', certificate]);
    return { certificate, key };
  }

  /** A client certificate signed by this CA whose validity ended in the past. */
  async issueExpired(name: string, cn: string): Promise<KeyPair> {
    const { request, key } = await this.request(name, { cn });
    const database = join(this.dir, `${name}-db`);
    await mkdir(database, { recursive: true });
    await writeFile(join(database, 'index.txt'), '');
    await writeFile(join(database, 'serial'), '1000\n');
    const config = join(database, 'ca.cnf');
    await writeFile(
      config,
      [
        '[ca]',
        'default_ca = issuing',
        '[issuing]',
        `database = ${join(database, 'index.txt')}`,
        `new_certs_dir = ${database}`,
        `serial = ${join(database, 'serial')}`,
        'default_md = sha256',
        'policy = any_subject',
        'unique_subject = no',
        'x509_extensions = client',
        '[any_subject]',
        'commonName = supplied',
        '[client]',
        'extendedKeyUsage = clientAuth',
        '',
      ].join('\n'),
    );
    const certificate = join(this.dir, `${name}.crt`);
    await openssl(['ca', '-batch', '-notext', '-config', config, '-cert', this.certificate, '-keyfile', this.key, '-in', request, '-out', certificate, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z']);
    return { certificate, key };
  }

  private async request(name: string, options: Pick<IssueOptions, 'cn' | 'key'>): Promise<{ request: string; key: string }> {
    const request = join(this.dir, `${name}.csr`);
    const key = options.key ?? join(this.dir, `${name}.key`);
    const keyArgs = options.key === undefined ? [...NEW_KEY, '-keyout', key] : ['-key', key];
    const subject = options.cn === undefined ? '/O=porthole tests' : `/CN=${options.cn}`;
    await openssl(['req', '-new', ...keyArgs, '-out', request, '-subj', subject]);
    return { request, key };
  }

  private extensions(options: IssueOptions): string[] {
    const usage = options.usage === 'client' ? 'clientAuth' : 'serverAuth';
    const names = options.san === undefined ? [] : [`subjectAltName = ${options.san.join(', ')}`];
    return ['basicConstraints = CA:FALSE', `extendedKeyUsage = ${usage}`, ...names];
  }
}

/**
 * A directory as containers/image reads it (`--cert-dir`, `/etc/containers/certs.d/HOST:PORT`):
 * `*.crt` are CAs to trust, a `*.cert` with its `*.key` is the client certificate.
 */
export async function certDir(dir: string, ca: KeyPair, client?: KeyPair): Promise<string> {
  await mkdir(dir, { recursive: true });
  await copyFile(ca.certificate, join(dir, 'ca.crt'));
  if (client) {
    await copyFile(client.certificate, join(dir, 'client.cert'));
    await copyFile(client.key, join(dir, 'client.key'));
  }
  return dir;
}
