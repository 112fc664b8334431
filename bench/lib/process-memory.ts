import { readFileSync, writeFileSync } from 'node:fs';

/** How long after a start idle RSS is read: long enough for start-up work (a first storage scan, JIT of the start path) to settle. */
export const IDLE_SETTLE_MS = 2000;

/** A field of /proc/<pid>/status given in kB (VmRSS, VmHWM), in bytes. */
function statusBytes(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Resident set size now (VmRSS). */
export function residentBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** The highest resident set size since the start or the last resetPeakResident (VmHWM). */
export function peakResidentBytes(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

/**
 * Restarts VmHWM from the current RSS (writing 5 to /proc/<pid>/clear_refs, Linux 4.0+), so that
 * a peak read afterwards belongs to the load that follows, not to the loading of content before it
 * (a 64 MiB blob pushed in one request, say).
 */
export function resetPeakResident(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
