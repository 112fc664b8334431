import type { HrTime, TimeInput } from '@opentelemetry/api';
import { addHrTimes, millisToHrTime, timeInputToHrTime } from '@opentelemetry/core';

const NANOS_PER_SECOND = 1_000_000_000;

/**
 * A span's times, as the SDK takes them: the start from the wall clock (Date.now(), or what the
 * caller gave), every later time as the start plus what the monotonic clock measured since, so
 * that a duration is exact and the times agree with other services' wall clocks. The monotonic
 * clock alone (performance.timeOrigin + performance.now()) drifts from the wall clock as a
 * process runs; a span started from a wall-clock time the caller gave ends at Date.now(), as the
 * SDK's do, since there is no monotonic reading of its start to measure from.
 */
export class SpanClock {
  readonly start: HrTime;
  private readonly monotonicAtStart = performance.now();
  /** What to add to a performance.now() reading for epoch milliseconds, per this span's start. */
  private readonly monotonicToEpoch: number;
  private readonly startGiven: boolean;

  constructor(startTime: TimeInput | undefined | null) {
    const wallMs = Date.now();
    this.monotonicToEpoch = wallMs - this.monotonicAtStart;
    this.startGiven = startTime !== undefined && startTime !== null;
    this.start = this.startGiven ? this.at(startTime as TimeInput) : millisToHrTime(wallMs);
  }

  /** A time a caller gave (epoch or performance milliseconds, a Date, an HrTime), or now. */
  at(input: TimeInput | undefined | null): HrTime {
    if (input === undefined || input === null) {
      return this.startGiven ? millisToHrTime(Date.now()) : addHrTimes(this.start, millisToHrTime(performance.now() - this.monotonicAtStart));
    }
    // A performance.now() reading (as OpenTelemetry tells them apart: below half the time origin).
    if (typeof input === 'number' && input < performance.timeOrigin / 2) return millisToHrTime(input + this.monotonicToEpoch);
    return timeInputToHrTime(input);
  }
}

/** `end` minus `start`, never negative. */
export function hrDuration(start: HrTime, end: HrTime): HrTime {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds -= 1;
    nanos += NANOS_PER_SECOND;
  }
  return seconds < 0 ? [0, 0] : [seconds, nanos];
}

/** Whether `a` is before `b`. */
export function hrBefore(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}
