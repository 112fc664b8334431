import { X509Certificate } from 'node:crypto';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The certificate blocks of a PEM text, in order: node's X509Certificate reads only the first
 * certificate of what it is given, and a chain or a CA bundle holds several.
 */
export function pemCertificateBlocks(text: string): string[] {
  return text.match(CERTIFICATE_BLOCK) ?? [];
}

/**
 * What is wrong with a PEM text given as certificates to trust or present (a CA bundle, a client
 * certificate): it holds none, or one that does not parse; undefined when every one parses.
 */
export function pemCertificatesProblem(text: string): 'holds no PEM certificate' | 'holds a certificate that cannot be parsed' | undefined {
  const blocks = pemCertificateBlocks(text);
  if (blocks.length === 0) return 'holds no PEM certificate';
  return blocks.every(parses) ? undefined : 'holds a certificate that cannot be parsed';
}

function parses(block: string): boolean {
  try {
    new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}
