/** Durations in config are strings with a unit, as operators write them: 500ms, 30s, 2m, 24h, 30d. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

export function isDuration(text: string): boolean {
  return DURATION_PATTERN.test(text);
}

export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) throw new Error(`invalid duration "${text}": use a number and a unit (ms, s, m, h, d), e.g. 30s`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}
