import { isMissingObject, missingObject, notEmpty, type Driver } from './driver.js';

/**
 * Moves a directory of objects (a blob's directory: its data) to another prefix, refusing one
 * that is not empty, as a rename would. In one atomic rename where the driver has file
 * operations; elsewhere object by object, one level deep, so that a reader may briefly find an
 * object at both places (never at neither): the parking protocols that rely on this are safe on
 * an object store only under the locks that Redis provides (docs/scale-out.md).
 */
export async function moveDirectory(driver: Driver, from: string, to: string): Promise<void> {
  if (driver.files) return driver.files.renameDirectory(from, to);
  const names = await driver.list(from);
  if (names.length === 0) throw missingObject(`nothing under "${from}"`);
  if ((await driver.list(to)).length > 0) throw notEmpty(to);
  for (const name of names) {
    try {
      await driver.move(`${from}/${name}`, `${to}/${name}`);
    } catch (err) {
      // Moved away by someone else meanwhile: what is left is theirs to settle.
      if (!isMissingObject(err)) throw err;
    }
  }
}
