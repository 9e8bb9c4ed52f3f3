/** Temporary directories for the tests that touch the filesystem, always removed afterwards. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

/** A new, empty temporary directory and the function that removes it with its contents. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tufa-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Registers hooks that give each test of the file (`each`), or the file as a whole (`all`), a
 * fresh temporary directory, removed after it. `use` receives the path before the hooks the file
 * registers later run: `let dir: string; useTempDir('each', (d) => { dir = d; });`
 */
export function useTempDir(scope: 'each' | 'all', use: (dir: string) => void): void {
  let cleanup: () => Promise<void> = async () => {};
  (scope === 'each' ? beforeEach : beforeAll)(async () => {
    const made = await tempDir();
    cleanup = made.cleanup;
    use(made.dir);
  });
  (scope === 'each' ? afterEach : afterAll)(() => cleanup());
}
