import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

type LevelName = 'panic' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogCall = (...args: unknown[]) => void;

/**
 * A request's logger (Fastify's `request.log`) that becomes a pino child only when it first
 * writes a line. Fastify makes a child logger for every request, binding its id, and pino's
 * child costs more CPU than the rest of a manifest GET's logging put together; most requests
 * never log through it: their access line is written with the id in its fields (access-log.ts),
 * and Fastify's own lines are errors. A line at a level that is off costs one comparison.
 */
export class RequestLogger {
  private real: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly childBindings: Bindings,
  ) {}

  private write(level: LevelName, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    (this.materialized()[level as keyof Logger] as LogCall)(...args);
  }

  get level(): string {
    return (this.real ?? this.parent).level;
  }

  set level(level: string) {
    this.materialized().level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.real ?? this.parent).isLevelEnabled(level);
  }

  bindings(): Bindings {
    return this.materialized().bindings();
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.materialized().child(bindings, options);
  }

  /** The pino child, made on first use. */
  private materialized(): Logger {
    return (this.real ??= this.parent.child(this.childBindings));
  }

  panic(...args: unknown[]): void {
    this.write('panic', args);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}
}

/**
 * Fastify's childLoggerFactory: a RequestLogger, unless a route asks for a level or serializers
 * of its own (none of porthole's do), which only a real child can carry.
 */
export function requestChildLogger(logger: Logger, bindings: Bindings, options: ChildLoggerOptions): Logger | RequestLogger {
  if (options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options);
  return new RequestLogger(logger, bindings);
}
