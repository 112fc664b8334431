#!/usr/bin/env node
// The `porthole` command. The young-generation setting must be in force before the program's
// modules are even parsed (ESM links the whole static graph first), hence the dynamic import.
import './startup-memory.js';

await import('./program.js');
