import type { HrTime, TimeInput } from '@opentelemetry/api';
import { timeInputToHrTime } from '@opentelemetry/core';

const NANOS_PER_SECOND = 1_000_000_000;
const NANOS_PER_MILLI = 1_000_000;

// performance.timeOrigin in whole seconds and nanoseconds, taken apart once: adding the small
// performance.now() to it in nanoseconds keeps a span's times exact to the nanosecond, which one
// double of epoch milliseconds (about 0.25 µs apart today) would not.
const originMillis = performance.timeOrigin;
const originSeconds = Math.floor(originMillis / 1000);
const originNanos = Math.round((originMillis - originSeconds * 1000) * NANOS_PER_MILLI);

/** Now, as OpenTelemetry's [seconds, nanoseconds] since the epoch, from the monotonic clock. */
export function hrNow(): HrTime {
  const nanos = originNanos + Math.round(performance.now() * NANOS_PER_MILLI);
  const carried = Math.floor(nanos / NANOS_PER_SECOND);
  return [originSeconds + carried, nanos - carried * NANOS_PER_SECOND];
}

/** A time a caller gave (epoch or performance milliseconds, a Date, an HrTime), or now. */
export function hrTimeOf(input: TimeInput | undefined): HrTime {
  return input === undefined ? hrNow() : timeInputToHrTime(input);
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
