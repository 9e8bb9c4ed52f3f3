/** Two publishers at once: `tufa sign` retries on a conflict, so no tag is lost. */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectExit,
  expectJson,
  newestVersion,
  publisher,
  readJson,
  Sandbox,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-concurrency-');
const GUN = 'registry.example.com/team/busy';
const repo = publisher(sandbox, GUN);
const MD = repo.md;

beforeAll(() => repo.init());
afterAll(() => sandbox.cleanup());

describe('concurrent tufa sign on one GUN', () => {
  it('two processes started together with different tags both exit 0, and both tags are signed', async () => {
    for (let round = 0; round < 3; round++) {
      const tags = [`r${round}-a`, `r${round}-b`];
      const before = newestVersion(MD, 'targets');
      const results = await Promise.all(
        tags.map((t) => sandbox.tufa(['sign', `${GUN}:${t}`, '--digest', digestOf(t), '--size', '1'])),
      );
      for (const [i, r] of results.entries()) {
        expectExit(r, 0);
        expect(r.stdout).toContain(`signed ${GUN}:${tags[i]} `);
      }
      expect(newestVersion(MD, 'targets')).toBe(before + 2);
      const published = readJson(`${MD}/${before + 2}.targets.json`).signed.targets;
      for (const t of tags) expect(published[t]?.hashes.sha256).toBe(digestOf(t).slice(7));
    }
    const list = expectJson<{ tags: { tag: string }[] }>(await sandbox.tufa(['--json', 'list', GUN]));
    expect(list.tags.map((t) => t.tag)).toEqual(['r0-a', 'r0-b', 'r1-a', 'r1-b', 'r2-a', 'r2-b']);
    expect(readdirSync(MD).filter((f) => f.startsWith('.'))).toEqual([]);
    // A client sees every tag.
    const verified = expectJson<{ tags: { tag: string }[] }>(
      await sandbox.tufa(['--json', 'list', GUN, '--server', 'pub', '--root', `${MD}/1.root.json`]),
    );
    expect(verified.tags).toHaveLength(6);
  });
});
