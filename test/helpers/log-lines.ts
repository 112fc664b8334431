/** One JSON log line of porthole (pino), as far as tests look at it. */
export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** The JSON lines of a process's output (anything else it printed is skipped). */
export function logLines(output: string): LogLine[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      const parsed = JSON.parse(line) as Partial<LogLine>;
      return typeof parsed.msg === 'string' && typeof parsed.level === 'string' ? [parsed as LogLine] : [];
    } catch {
      return [];
    }
  });
}
