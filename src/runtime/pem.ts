const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The certificate blocks of a PEM text, in order: node's X509Certificate reads only the first
 * certificate of what it is given, and a chain or a CA bundle holds several.
 */
export function pemCertificateBlocks(text: string): string[] {
  return text.match(CERTIFICATE_BLOCK) ?? [];
}
