import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined. */
  json(): any;
}

export interface RawRequest {
  method?: string;
  /** Sent exactly as given: no normalisation of `..` or percent-encoding (unlike fetch). */
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** Bounded wait for the whole exchange. */
  timeoutMs?: number;
  /** A keep-alive agent to reuse connections; a fresh connection per request when omitted. */
  agent?: Agent;
}

/** One HTTP exchange with porthole over node:http, with nothing rewritten on the way. */
export function raw(baseUrl: string, options: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => {
              try {
                return JSON.parse(body.toString('utf8'));
              } catch {
                return undefined;
              }
            },
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 15_000, () => req.destroy(new Error(`${options.method ?? 'GET'} ${options.path} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The OCI error codes of a response body, in order. */
export function errorCodes(response: RawResponse): string[] {
  const body = response.json() as { errors?: Array<{ code: string }> } | undefined;
  return body?.errors?.map((e) => e.code) ?? [];
}
