import { CommandError, runCommand } from '../e2e/run-command.js';

export interface PromtoolResult {
  code: number | null;
  /** Lint problems (exit 3). */
  stdout: string;
  /** Parse errors (exit 1). */
  stderr: string;
}

/**
 * `promtool check metrics` over an exposition text. Clean text gives exit 0 and no output at all:
 * assert all three, so that a failure shows what promtool objected to.
 */
export async function promtoolCheckMetrics(exposition: string): Promise<PromtoolResult> {
  try {
    const { stdout, stderr } = await runCommand('promtool', ['check', 'metrics'], { input: exposition, timeoutMs: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    return { code: err.code, ...err.result };
  }
}
