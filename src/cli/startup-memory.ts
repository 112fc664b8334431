import { setFlagsFromString } from 'node:v8';

/**
 * Keeps start-up garbage from sizing the heap for the rest of the process's life. Loading the
 * modules and the configuration allocates a lot that survives a few collections, and V8 answers
 * by doubling its young generation each time: about 8 MB of resident memory that an idle
 * registry then keeps (measured: 80 → 72 MB idle RSS). Imported first by the CLI, before any
 * other module is evaluated; `startupDone` gives V8 back its usual growth once porthole serves,
 * so that a busy server still gets the young generation its allocation rate calls for.
 */
const DEFAULT_GROWTH_FACTOR = 2;

setFlagsFromString('--semi-space-growth-factor=1');

export function startupDone(): void {
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
}
