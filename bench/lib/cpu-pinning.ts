import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** The core the measured server runs on, and the one its load generator runs on. */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

/**
 * Whether server and load generator can each have a core of their own. Unpinned, on a 2-core
 * machine they and the server's own threads move between both cores, and two identical
 * processes measured in turn differed by 11–14% in server CPU per request; pinned, the same
 * process measured again differs by a few percent.
 */
export function pinningPossible(): boolean {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins every thread of a running process (its libuv pool and V8's helpers too) to one core. */
export function pinProcess(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-c', '-p', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** Lets every thread of a process run on any core again, after pinProcess. */
export function unpinProcess(pid: number): void {
  execFileSync('taskset', ['-a', '-c', '-p', `0-${availableParallelism() - 1}`, String(pid)], { stdio: 'ignore' });
}
