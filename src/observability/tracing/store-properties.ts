/** Every property a store offers, its own and its prototypes' (up to Object's): what a decorator of it must offer too. */
export function storeProperties(store: object): Set<string> {
  const names = new Set<string>();
  for (let level: object | null = store; level !== null && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null) {
    for (const key of Reflect.ownKeys(level)) if (typeof key === 'string' && key !== 'constructor') names.add(key);
  }
  return names;
}
