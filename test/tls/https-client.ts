import { readFileSync } from 'node:fs';
import { request, type Agent } from 'node:https';
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { KeyPair } from './openssl-ca.js';

/** What a client trusts and which certificate (if any) it presents. */
export interface ClientTls {
  /** PEM file of the CA that signed porthole's certificate. */
  ca: string;
  client?: KeyPair;
}

export interface HttpsResponse {
  status: number;
  body: string;
  /** The server certificate of the connection the answer came on. */
  peer: PeerCertificate;
  socket: TLSSocket;
  json(): any;
}

function secureOptions(tls: ClientTls): { ca: Buffer; cert?: Buffer; key?: Buffer } {
  const options: { ca: Buffer; cert?: Buffer; key?: Buffer } = { ca: readFileSync(tls.ca) };
  if (tls.client) {
    options.cert = readFileSync(tls.client.certificate);
    options.key = readFileSync(tls.client.key);
  }
  return options;
}

/** One GET over HTTPS with node's client, certificates verified (bounded: 10 s). */
export function httpsGet(port: number, path: string, tls: ClientTls, agent?: Agent): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ...secureOptions(tls), agent: agent ?? false }, (res) => {
      const socket = res.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peer, socket, json: () => JSON.parse(body) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The certificate a new TLS connection to porthole is served (bounded: 10 s). */
export function servedCertificate(port: number, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca) });
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerCertificate();
      socket.end();
      resolve(certificate);
    });
    socket.once('error', reject);
  });
}
