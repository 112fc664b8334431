/** The config keys that choose a listener's address and its port. */
export interface ListenerKeys {
  address: string;
  port: string;
}

/**
 * Errors of bind(2) and of the name lookup before it that come from the address, not the port:
 * an address no interface of this host has, a host name that does not resolve, or an address
 * family the system lacks.
 */
const ADDRESS_ERRORS = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAFNOSUPPORT']);

/** The key to blame when a listener cannot be bound: its address's, else its port's (in use, privileged). */
export function keyToBlame(code: string | undefined, keys: ListenerKeys): string {
  return code !== undefined && ADDRESS_ERRORS.has(code) ? keys.address : keys.port;
}
