/**
 * Runs `job(0)` .. `job(count - 1)` on `clients` concurrent workers, each taking the next index
 * as soon as its previous job is done, the way parallel clients keep a server busy.
 */
export async function runClients(clients: number, count: number, job: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      await job(index);
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
}
