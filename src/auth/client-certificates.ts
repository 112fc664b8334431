import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import '../http/request-context.js';

/** What a TLS connection's client certificate says about whoever sends requests on it. */
type ClientIdentity = { user: string } | { refused: string } | undefined;

/** Remaining lifetime (seconds) of each client certificate presented, once per connection. */
export type ObserveClientCertificate = (remainingSeconds: number) => void;

/** The first value of a subject field (node gives an array when the field repeats). */
function firstOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

/** The first DNS name or email address of a subjectAltName as node writes it (`DNS:a, email:b`). */
function firstNameOf(subjectAltName: string | undefined): string | undefined {
  for (const entry of subjectAltName?.split(', ') ?? []) {
    const match = /^(?:DNS|email):(.+)$/.exec(entry);
    if (match) return match[1];
  }
  return undefined;
}

/** The user a certificate names: its subject CN, else its first DNS or email SAN. */
function certificateUser(certificate: PeerCertificate): string | undefined {
  return firstOf(certificate.subject?.CN) ?? firstNameOf(certificate.subjectaltname);
}

function identify(socket: TLSSocket, observe: ObserveClientCertificate): ClientIdentity {
  const certificate = socket.getPeerCertificate();
  // Node answers an empty object when the client sent no certificate.
  if (certificate === null || Object.keys(certificate).length === 0) return undefined;
  observe(Math.max(0, (Date.parse(certificate.valid_to) - Date.now()) / 1000));
  if (!socket.authorized) return { refused: String(socket.authorizationError ?? 'not verified') };
  const user = certificateUser(certificate);
  return user === undefined ? { refused: 'the certificate names no user (no subject CN, DNS or email SAN)' } : { user };
}

/**
 * Mutual TLS (docs/tls.md): each request on a connection whose client presented a certificate
 * carries what it says for the access gate, `request.certificateUser` when the certificate was
 * verified against http.tls.clientCA, `request.certificateRefused` with the reason when it was
 * not (expired, signed by another CA), which the gate answers 401. A connection without one
 * leaves the request anonymous (clientAuth optional; required ends it in the handshake).
 *
 * The certificate is looked at once per connection, not per request: keep-alive clients send
 * hundreds of requests on one, and the expiry histogram counts certificates, not requests.
 */
export function clientCertificates(app: FastifyInstance, observe: ObserveClientCertificate): void {
  const identities = new WeakMap<TLSSocket, ClientIdentity>();
  app.addHook('onRequest', (request, _reply, done) => {
    const socket = request.raw.socket as TLSSocket;
    if (!identities.has(socket)) identities.set(socket, identify(socket, observe));
    const identity = identities.get(socket);
    if (identity && 'user' in identity) request.certificateUser = identity.user;
    else if (identity) request.certificateRefused = identity.refused;
    done();
  });
}
