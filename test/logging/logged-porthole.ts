import { join } from 'node:path';
import type { PortholeConfigInput } from '../../src/config/schema.js';
import { startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { readJsonLines, type AuditLine, type LogLine } from './json-lines.js';

export interface LoggedPorthole {
  porthole: PortholeProcess;
  /** log.output: the log file. */
  log: string;
  /** log.audit: the audit log. */
  audit: string;
}

export interface LoggedStart {
  /** Holds porthole.log, audit.log and (unless `root` is given) the storage root. */
  dir: string;
  root?: string;
  /** More configuration; log.output and log.audit are always the two files in `dir`. */
  config?: PortholeConfigInput;
  /** --log-level; when omitted, log.level of `config` (or its default, info) decides. */
  logLevel?: string;
  args?: string[];
}

/**
 * Starts porthole logging to files, as an operator runs it. Start-up is read from the audit
 * log's server.start line, which every level writes (a `warn` porthole logs no "listening").
 * Starting again with the same `dir` appends to the same files.
 */
export async function startLogged(options: LoggedStart): Promise<LoggedPorthole> {
  const log = join(options.dir, 'porthole.log');
  const audit = join(options.dir, 'audit.log');
  const config: PortholeConfigInput = { ...options.config, log: { ...options.config?.log, output: log, audit } };
  const porthole = await startPorthole({
    root: options.root ?? join(options.dir, 'root'),
    // JSON is YAML too.
    config: JSON.stringify(config),
    logLevel: options.logLevel ?? null,
    args: options.args ?? [],
    announcedIn: audit,
  });
  return { porthole, log, audit };
}

export interface LogFiles {
  log: LogLine[];
  audit: AuditLine[];
}

/** Both files, parsed strictly; read them once porthole has stopped, when every line is written. */
export async function readLogFiles(files: { log: string; audit: string }): Promise<LogFiles> {
  const [log, audit] = await Promise.all([readJsonLines<LogLine>(files.log), readJsonLines<AuditLine>(files.audit)]);
  return { log, audit };
}
