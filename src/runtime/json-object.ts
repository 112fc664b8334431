/**
 * The JSON object a small stored file holds, for a reader that then checks it field by field;
 * undefined for anything else (not JSON, truncated, an array or a scalar), which such readers
 * skip rather than fail on.
 */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}
