import { durationMs, isDuration } from '../config/durations.js';

/** The environment variable that sets how long one start-up step may take. */
export const STARTUP_TIMEOUT_VARIABLE = 'PORTHOLE_STARTUP_TIMEOUT';

/**
 * How long one start-up step (reading the config, opening a log file, preparing storage, binding
 * a listener) may take when the variable is unset. Generous: a healthy step takes milliseconds,
 * and one that takes a minute is stuck (a storage root on a hung network mount, a host name whose
 * lookup never ends), not slow.
 */
const DEFAULT_STEP_BOUND = '60s';

export interface StepBound {
  /** As the operator wrote it, for messages. */
  text: string;
  ms: number;
}

/** The bound in force, or a message saying what is wrong with the variable. */
export function stepBoundOf(env: NodeJS.ProcessEnv): StepBound | string {
  const text = env[STARTUP_TIMEOUT_VARIABLE] || DEFAULT_STEP_BOUND;
  if (!isDuration(text)) return `${STARTUP_TIMEOUT_VARIABLE}: "${text}" is not a duration such as 30s or 2m`;
  return { text, ms: durationMs(text) };
}

export type Settled<T> = { finished: true; value: T } | { finished: false };

/**
 * Waits for `step` for at most `ms`: its value when it finished in time, `finished: false` when it
 * did not. A step that fails in time rejects as it did. The step itself cannot be called off; the
 * caller is expected to stop start-up (and the process) when it did not finish.
 */
export async function settleWithin<T>(step: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ finished: false }), ms);
  });
  try {
    return await Promise.race([step.then((value): Settled<T> => ({ finished: true, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
