/**
 * The trust-server side of repo.ts's `Publication`, in process against a real trust server
 * (@tufa/server on an embedded store, loopback): when another publisher uploads between this
 * transaction's read and its upload, the server answers with the version now current and the
 * edit is applied again to it — deterministically, where the CLI test can only race two
 * processes. And an edit that keeps meeting a newer version gives up after the attempts core's
 * transactions allow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TRANSACTION_ATTEMPTS, type Repository, TargetFile } from '@tufa/core';
import { type RunningTrustServer, ServerClient, startTrustServer } from '@tufa/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedSigner } from '../../oci/test/helpers/keys.js';
import { publicationAt } from '../src/repo.js';

const GUN = 'registry.test/team/publication';
const root = fixedSigner(71);
const targets = fixedSigner(72);
const tag = (name: string, n: number) =>
  new TargetFile(name, n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));

let dir = '';
let server: RunningTrustServer;
let other: ServerClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tufa-publication-'));
  server = await startTrustServer({
    store: join(dir, 'store'),
    keyPassphrase: 'online-keys-passphrase-for-tests-0042',
    host: '127.0.0.1',
    port: 0,
    refreshIntervalMs: 0,
    scryptN: 1024,
  });
  other = new ServerClient({ url: server.url });
  await other.create(GUN, { keys: { root: [root.key], targets: [targets.key] }, signers: [root, targets] });
});
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Another publisher's upload, made while our edit runs. */
const interleave = (name: string, n: number) =>
  other.publish(GUN, { signers: [targets] }, (repo) => repo.addTargets([tag(name, n)]));

describe('a trust server Publication', () => {
  it('re-applies the edit when another publisher uploaded first; both tags stay', async () => {
    const p = await publicationAt(GUN, { kind: 'http', url: server.url.replace(/\/$/, '') });
    const r = await p.transaction({ signers: [targets] }, async (repo: Repository, attempt) => {
      if (attempt === 1) await interleave('theirs', 1);
      await repo.addTargets([tag('ours', 2)]);
      return attempt;
    });
    expect(r.attempts).toBe(2);
    expect(r.result).toBe(2);
    expect(r.written).toContain('metadata/timestamp.json');
    const check = await other.publish(GUN, { signers: [targets] }, async (repo) => [
      (await repo.getTargets('targets')).targets.has('theirs'),
      (await repo.getTargets('targets')).targets.has('ours'),
    ]);
    expect(check.result).toEqual([true, true]);
  });

  it('gives up with the stale-version error after the attempts a transaction allows', async () => {
    const p = await publicationAt(GUN, { kind: 'http', url: server.url.replace(/\/$/, '') });
    let n = 10;
    const e = await p
      .transaction({ signers: [targets] }, async (repo: Repository) => {
        await interleave(`theirs-${n}`, n++);
        await repo.addTargets([tag('never', 99)]);
      })
      .catch((x: unknown) => x as { code?: string });
    expect(e).toMatchObject({ code: 'CONFLICT' });
    expect(n - 10).toBe(DEFAULT_TRANSACTION_ATTEMPTS);
  });
});
