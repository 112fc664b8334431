import { setFlagsFromString } from 'node:v8';

/**
 * Keeps start-up from sizing the process for the rest of its life. Imported first by the CLI,
 * before any other module is evaluated; `startupDone` gives V8 back its defaults once porthole
 * serves, so that a busy server still gets the young generation its allocation rate calls for
 * and its hot paths optimized.
 *
 * - Loading the modules and the configuration allocates a lot that survives a few collections,
 *   and V8 answers by doubling its young generation each time: about 8 MB of resident memory
 *   that an idle registry then keeps (measured: 80 → 72 MB idle RSS).
 * - Loading several hundred modules makes node's own resolution code (path normalization, URL
 *   parsing, the CommonJS export lexer) hot enough for TurboFan, whose first compilations page
 *   in its own machine code and leave their compile memory behind: about 5 MB of resident
 *   memory for code that runs once (measured: idle RSS 70–77 → 66 MB). The request path is
 *   optimized as usual from the first requests on.
 */
const DEFAULT_GROWTH_FACTOR = 2;

setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--no-turbofan');

/** TurboFan back on: from the first request for serve; before it runs for any other command (program.ts), whose work is its hot loop. */
export function optimizeFromNowOn(): void {
  setFlagsFromString('--turbofan');
}

export function startupDone(): void {
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  optimizeFromNowOn();
}
