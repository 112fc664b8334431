import type { DestinationStream } from 'pino';
import type { RequestAction } from '../http/request-action.js';

/** One security-relevant event: who tried to change what, and how it ended. */
export interface AuditEvent {
  action: string;
  /** For requests: what the request does in access-control terms (push or delete; see http/request-action.ts). */
  access?: RequestAction;
  outcome: 'success' | 'failure';
  /** The user, `anonymous` without credentials, `porthole` for the server's own events. */
  subject: string;
  clientIP?: string;
  repo?: string;
  reference?: string;
  digest?: string;
  uploadId?: string;
  /** The request path, for writes to paths that are no API endpoint. */
  path?: string;
  /** Source repository of a mount. */
  from?: string;
  status?: number;
  /** The OCI error code of a refused request. */
  error?: string;
  reqId?: string;
  /** The trace of a sampled request (docs/tracing.md). */
  traceId?: string;
  spanId?: string;
  /** Free-form detail of server events (signal, reason). */
  detail?: string;
}

export interface Auditor {
  record(event: AuditEvent): void;
}

/** The disabled twin, used when `log.audit` is not set: the callers never check a flag. */
export const disabledAuditor: Auditor = {
  record() {},
};

/** Where each event is counted (porthole_audit_events_total{action,outcome}). */
export interface AuditCounter {
  add(key: string, labels: { action: string; outcome: string }, delta?: number): void;
}

/** The auditor with every event counted, whether or not it is written anywhere (log.audit unset). */
export function countedAuditor(inner: Auditor, counter: AuditCounter): Auditor {
  return {
    record(event) {
      counter.add(`${event.action} ${event.outcome}`, { action: event.action, outcome: event.outcome });
      inner.record(event);
    },
  };
}

/**
 * Writes one JSON line per event, `time` first, straight to the (buffered, reopenable)
 * destination: the fields are porthole's own, so there is nothing for a logger to add or redact.
 */
export function createAuditor(destination: DestinationStream): Auditor {
  return {
    record(event) {
      destination.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
    },
  };
}
