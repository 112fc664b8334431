import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError } from '../config/load.js';
import type { TlsConfig } from '../config/schema.js';
import { pemCertificateBlocks } from '../runtime/pem.js';

/** Where each file of http.tls is configured, for the errors that name it. */
const KEYS = { certificate: 'http.tls.certificate', key: 'http.tls.key', clientCA: 'http.tls.clientCA' } as const;

/** The files of http.tls, read and checked: what a secure context is made of. */
export interface TlsMaterial {
  certificate: Buffer;
  key: Buffer;
  clientCA?: Buffer;
  /** The server certificate (the first of its file), for its expiry and fingerprint. */
  leaf: X509Certificate;
}

function readOrFail(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError([`${key}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
}

/** The certificates of a PEM file, each parsed; a file with none, or with one that does not parse, fails naming the key. */
function certificatesOf(key: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pemCertificateBlocks(pem.toString('latin1'));
  if (blocks.length === 0) throw new ConfigError([`${key}: "${path}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`]);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new ConfigError([`${key}: certificate ${index + 1} of "${path}" cannot be parsed (${(err as Error).message})`]);
    }
  });
}

function privateKeyOf(path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    // An encrypted key lands here too: porthole has no passphrase to open it with.
    throw new ConfigError([`${KEYS.key}: "${path}" is not an unencrypted PEM private key (${(err as Error).message})`]);
  }
}

/**
 * Reads and checks the files of http.tls: the certificate parses, the key is the certificate's,
 * the client CA file holds certificates, and OpenSSL accepts them together. Every failure is a
 * ConfigError naming the key at fault, as at start-up, on a reload and in `porthole verify`.
 */
export function readTlsMaterial(tls: TlsConfig): TlsMaterial {
  const certificate = readOrFail(KEYS.certificate, tls.certificate);
  const key = readOrFail(KEYS.key, tls.key);
  const leaf = certificatesOf(KEYS.certificate, tls.certificate, certificate)[0] as X509Certificate;
  if (!leaf.checkPrivateKey(privateKeyOf(tls.key, key))) {
    throw new ConfigError([`${KEYS.key}: "${tls.key}" is not the private key of the certificate in "${tls.certificate}" (${leaf.subject.replace(/\n/g, ', ')})`]);
  }
  const material: TlsMaterial = { certificate, key, leaf };
  if (tls.clientCA !== undefined) {
    material.clientCA = readOrFail(KEYS.clientCA, tls.clientCA);
    certificatesOf(KEYS.clientCA, tls.clientCA, material.clientCA);
  }
  try {
    createSecureContext(secureContextOptions(tls, material));
  } catch (err) {
    // What OpenSSL still refuses once each file parses (a key too weak for its security level).
    throw new ConfigError([`${KEYS.certificate}: OpenSSL refuses the certificate and key (${(err as Error).message})`]);
  }
  return material;
}

/** What a secure context holds; a reload replaces all of it (server.setSecureContext). */
export function secureContextOptions(tls: TlsConfig, material: TlsMaterial): SecureContextOptions {
  const options: SecureContextOptions = { cert: material.certificate, key: material.key, minVersion: tls.minVersion };
  // Only the client CA: clients are verified against it alone, never against the system's roots.
  if (material.clientCA) options.ca = material.clientCA;
  return options;
}

/**
 * The options of the HTTPS server. With a client CA, clients are asked for a certificate; when
 * it is optional, one that fails verification does not end the handshake: the request is
 * answered 401 instead (auth/client-certificates.ts), which says why, where a failed handshake says
 * nothing a user can act on.
 */
export function httpsServerOptions(tls: TlsConfig, material: TlsMaterial): ServerOptions {
  const withClients = material.clientCA !== undefined;
  return {
    ...secureContextOptions(tls, material),
    requestCert: withClients,
    rejectUnauthorized: withClients && tls.clientAuth === 'required',
  };
}

/** Unix seconds at which the certificate stops being valid. */
export function notAfterSeconds(certificate: X509Certificate): number {
  return Math.floor(Date.parse(certificate.validTo) / 1000);
}
