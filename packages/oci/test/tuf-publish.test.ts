/**
 * Publishing into a registry without compare-and-swap (docs/tuf-in-oci.md, "Publishing"), against
 * a real registry with token auth: concurrent publishers lose no update, a stalled publisher that
 * lost the lease or was overwritten learns it (ConflictError) and re-applies, a publish killed at
 * any point leaves a repository a client verifies, and a refresh costs a bounded number of
 * requests (token included).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ConflictError, MemoryMetadataStore, Repository, withRepository } from '@tufa/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/client.js';
import { MEDIA_TYPES } from '../src/manifest.js';
import type { PublishStep } from '../src/tuf/lease.js';
import type { OciRepositoryStorageOptions } from '../src/tuf/storage.js';
import { failure } from './helpers/failure.js';
import { type CountingProxy, startCountingProxy } from './helpers/proxy.js';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
  startTokenIssuer,
  type TokenIssuer,
} from './helpers/registry.js';
import {
  allSigners,
  clientFor,
  clientOptions,
  expiry,
  image,
  initRepository,
  keys,
  now,
  storageFor,
  trustedRoot,
} from './helpers/tuf-repo.js';

requireRegistryTools();

const USER = { username: 'ci', password: 'Ci-pa55-never-shown-5531' };
let issuer: TokenIssuer;
let registry: Registry;
let proxy: CountingProxy;

const storage = (repo: string, o: OciRepositoryStorageOptions = {}) => storageFor(proxy.host, repo, USER, o);
const repoOptions = { signers: allSigners, expiry, now };
const quick = {
  attempts: 30,
  delay: () => new Promise<void>((r) => setTimeout(r, 30 + Math.floor(Math.random() * 40))),
};

/** The image tags the repository in the registry signs now, as a fresh client verifies them. */
async function verifiedTags(repo: string, root: Uint8Array): Promise<string[]> {
  const c = await clientFor(proxy.host, repo, USER, root);
  const tags: string[] = [];
  for await (const t of c.updater.listTargets()) tags.push(t.target.path);
  return tags.sort();
}

describe.skipIf(!HAVE_REGISTRY_TOOLS)('publishing TUF metadata into a registry (token auth)', () => {
  beforeAll(async () => {
    issuer = await startTokenIssuer({ users: [USER] });
    registry = await startRegistry({ mode: 'token', issuer });
    proxy = await startCountingProxy(registry.url);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    await issuer?.stop();
  });

  it('a refresh that finds nothing new: two requests, plus the challenge and one token request for a new client', async () => {
    const s = storage('count/app');
    await initRepository(s);
    const root = await trustedRoot(s);
    const c = await clientFor(proxy.host, 'count/app', USER, root);
    await c.updater.refresh();
    proxy.seen.length = 0;
    issuer.requests.length = 0;
    await c.updater.refresh();
    expect(proxy.seen.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /v2/count/app/manifests/_tufa.2.root 404',
      'HEAD /v2/count/app/manifests/_tufa.timestamp 200',
    ]);
    expect(issuer.requests).toEqual([]);
    // A new process: the first request is challenged, one token (pull only) is asked for.
    const fresh = await clientFor(proxy.host, 'count/app', USER, root, c.store);
    proxy.seen.length = 0;
    await fresh.updater.refresh();
    expect(proxy.seen.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /v2/count/app/manifests/_tufa.2.root 401',
      'GET /v2/count/app/manifests/_tufa.2.root 404',
      'HEAD /v2/count/app/manifests/_tufa.timestamp 200',
    ]);
    expect(issuer.requests).toHaveLength(1);
    expect(new URL(issuer.requests[0]?.url ?? '', 'http://x').searchParams.getAll('scope')).toEqual([
      'repository:count/app:pull',
    ]);
  });

  it('concurrent publishers: every change is in the repository at the end', async () => {
    const s = storage('race/app');
    await initRepository(s);
    const root = await trustedRoot(s);
    const names = ['a', 'b', 'c', 'd'].map((n) => `app:${n}`);
    const outcomes = await Promise.allSettled(
      names.map((name, i) =>
        withRepository(
          storage('race/app'),
          repoOptions,
          (repo) => repo.addTargets([image(name, 100 + i)]),
          quick,
        ),
      ),
    );
    // A publisher that gave up got a ConflictError and re-applies its change.
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 'rejected') {
        expect(o.reason, String(o.reason)).toBeInstanceOf(ConflictError);
        await withRepository(
          storage('race/app'),
          repoOptions,
          (repo) => repo.addTargets([image(names[i] as string, 100 + i)]),
          quick,
        );
      }
    }
    expect(await verifiedTags('race/app', root)).toEqual(['app:1.0', ...names].sort());
  });

  it('two publishers that both read a free lease: the one whose lease was overwritten steps back', async () => {
    const s = storage('race/lease');
    await initRepository(s);
    const root = await trustedRoot(s);
    // Both read the free lease before either writes; A writes first, B second, then both read back.
    const signal = () => {
      let fire: () => void = () => {};
      const fired = new Promise<void>((r) => {
        fire = r;
      });
      return { fire, fired };
    };
    const bothRead = signal();
    const aWrote = signal();
    const bWrote = signal();
    let readers = 0;
    const waitForBoth = async (step: PublishStep) => {
      if (step !== 'lease-write') return;
      if (++readers === 2) bothRead.fire();
      await bothRead.fired;
    };
    // The settle delay starts right after a lease write: A's waits until B's write has landed.
    let aSlept = false;
    const a = storage('race/lease', {
      beforeStep: waitForBoth,
      sleep: async () => {
        if (aSlept) return;
        aSlept = true;
        aWrote.fire();
        await bWrote.fired;
      },
    });
    const b = storage('race/lease', {
      beforeStep: async (step: PublishStep) => {
        await waitForBoth(step);
        if (step === 'lease-write') await aWrote.fired;
      },
      sleep: async () => bWrote.fire(),
    });
    const [ra, rb] = await Promise.allSettled([
      withRepository(a, repoOptions, (repo) => repo.addTargets([image('app:a', 601)]), { attempts: 1 }),
      withRepository(b, repoOptions, (repo) => repo.addTargets([image('app:b', 602)]), { attempts: 1 }),
    ]);
    expect(rb.status).toBe('fulfilled');
    expect(ra.status).toBe('rejected');
    const e = (ra as PromiseRejectedResult).reason as Error & { code: string; holderState: string };
    expect(e.code).toBe('CONFLICT');
    expect(e.message).toContain('wrote the publish lease');
    expect(e.holderState).toBe('running'); // retryable: withRepository tries again
    expect(await verifiedTags('race/lease', root)).toEqual(['app:1.0', 'app:b']);
  });

  it('a publisher stalled between reading the lease and writing it: the one it overwrote learns it before committing', async () => {
    const s = storage('stall/lease');
    await initRepository(s);
    const root = await trustedRoot(s);
    let releaseA: () => void = () => {};
    const aMayWrite = new Promise<void>((r) => {
      releaseA = r;
    });
    let aReadLease: () => void = () => {};
    const aHasRead = new Promise<void>((r) => {
      aReadLease = r;
    });
    let aWroteLease: () => void = () => {};
    const aHasWritten = new Promise<void>((r) => {
      aWroteLease = r;
    });
    // A reads the (free) lease, then stalls before writing its own until B holds the lease and is
    // about to commit. A's settle delay starts right after its lease write: that is when B goes on.
    const a = storage('stall/lease', {
      beforeStep: async (step: PublishStep) => {
        if (step === 'lease-write') {
          aReadLease();
          await aMayWrite;
        }
      },
      sleep: async () => aWroteLease(),
    });
    let bCommits = 0;
    const b = storage('stall/lease', {
      beforeStep: async (step: PublishStep) => {
        if (step === 'commit' && bCommits++ === 0) {
          releaseA();
          await aHasWritten; // A's lease is now over B's
        }
      },
    });
    const pa = withRepository(a, repoOptions, (repo) => repo.addTargets([image('app:from-a', 201)]), {
      attempts: 1,
    });
    await aHasRead;
    const pb = withRepository(b, repoOptions, (repo) => repo.addTargets([image('app:from-b', 202)]), {
      attempts: 1,
    });
    const [ra, rb] = await Promise.allSettled([pa, pb]);
    // B finds its lease overwritten before its commit and commits nothing; A, now holding the
    // lease, replaces what B wrote (versions no committed timestamp refers to) and commits.
    expect(rb.status).toBe('rejected');
    expect((rb as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect(((rb as PromiseRejectedResult).reason as Error).message).toContain('was taken over');
    expect(ra.status).toBe('fulfilled');
    expect(await verifiedTags('stall/lease', root)).toEqual(['app:1.0', 'app:from-a']);
    // B re-applies its change.
    // Both re-apply their change.
    await withRepository(
      storage('stall/lease'),
      repoOptions,
      (repo) => repo.addTargets([image('app:from-a', 201)]),
      quick,
    );
    // B re-applies its change.
    await withRepository(
      storage('stall/lease'),
      repoOptions,
      (repo) => repo.addTargets([image('app:from-b', 202)]),
      quick,
    );
    expect(await verifiedTags('stall/lease', root)).toEqual(['app:1.0', 'app:from-a', 'app:from-b']);
  });

  it('a publish overwritten after its commit (a writer that got past the lease): ConflictError, and the change is re-applied', async () => {
    const s = storage('stall/verify');
    await initRepository(s);
    const root = await trustedRoot(s);
    const client = new RegistryClient({ ...clientOptions(USER), actions: ['pull', 'push'] });
    const before = await client.getManifest(`${proxy.host}/stall/verify:_tufa.timestamp`);
    let overwritten = 0;
    const a = storage('stall/verify', {
      beforeStep: async (step: PublishStep) => {
        // Between A's commit and its check, someone puts the old timestamp back.
        if (step === 'verify' && overwritten++ === 0) {
          await client.putManifest(
            `${proxy.host}/stall/verify:_tufa.timestamp`,
            before.bytes,
            MEDIA_TYPES.ociManifest,
          );
        }
      },
    });
    const first = await failure(
      withRepository(a, repoOptions, (repo) => repo.addTargets([image('app:late', 301)]), { attempts: 1 }),
    );
    expect(first).toBeInstanceOf(ConflictError);
    expect(first.message).toContain('overwrote');
    expect(first.message).toContain('_tufa.timestamp');
    // withRepository re-applies on that ConflictError by itself.
    const done = await withRepository(
      a,
      repoOptions,
      (repo) => repo.addTargets([image('app:late', 301)]),
      quick,
    );
    expect(done.attempts).toBe(1);
    expect(await verifiedTags('stall/verify', root)).toEqual(['app:1.0', 'app:late']);
  });

  it('a root version another publisher wrote meanwhile: ConflictError, nothing committed, the retry builds on it', async () => {
    const s = storage('stall/root');
    await initRepository(s);
    const root = await trustedRoot(s);
    const mine = await Repository.open(storage('stall/root'), repoOptions);
    // Another publisher rotates the root meanwhile and crashes before its timestamp: roots are
    // published the moment their tag exists (clients probe N+1.root.json), so 2.root stays.
    const other = await Repository.open(storage('stall/root'), repoOptions);
    other.rotateKeys('root', { add: [keys.root2.key] });
    const otherRoot = (await other.prepare()).files.find((f) => f.path === 'metadata/2.root.json');
    const s2 = storage('stall/root');
    const release = await s2.lock();
    await s2.write('metadata/2.root.json', otherRoot?.bytes as Uint8Array);
    await release();
    mine.rotateKeys('root', { add: [keys.team.key] });
    const e = await failure(mine.publish());
    expect(e).toBeInstanceOf(ConflictError);
    expect(e.message).toContain('already holds another 2.root.json');
    expect(await s.read('metadata/2.root.json')).toEqual(otherRoot?.bytes);
    // Re-applied on the repository as it now is: root 3, on top of the other publisher's root 2.
    await withRepository(
      storage('stall/root'),
      repoOptions,
      async (repo) => {
        repo.rotateKeys('root', { add: [keys.team.key] });
      },
      quick,
    );
    const c = await clientFor(proxy.host, 'stall/root', USER, root);
    await c.updater.refresh();
    expect(c.updater.trustedSet?.root.signed.version).toBe(3);
    expect(c.updater.trustedSet?.root.signed.role('root').keyids).toContain(keys.root2.keyid);
    expect(c.updater.trustedSet?.root.signed.role('root').keyids).toContain(keys.team.keyid);
  });

  it('a publish that crashes at any step leaves a repository clients verify, and the next publish goes on', async () => {
    const s = storage('crash/steps');
    await initRepository(s);
    const root = await trustedRoot(s);
    const c = await clientFor(proxy.host, 'crash/steps', USER, root);
    await c.updater.refresh();
    const steps: PublishStep[] = [
      'lease-read',
      'lease-write',
      'lease-confirm',
      'write',
      'commit',
      'verify',
      'release',
    ];
    const expected = ['app:1.0'];
    for (const [i, step] of steps.entries()) {
      const name = `app:crash-${step}`;
      // Each attempt comes after the lease a crash left held has expired (leases hold 60 s here).
      const crashing = storage('crash/steps', {
        now: () => Date.now() + i * 61_000,
        beforeStep: (at: PublishStep) => {
          if (at === step) throw new Error(`crash at ${step}`);
        },
      });
      const e = await failure(
        withRepository(crashing, repoOptions, (repo) => repo.addTargets([image(name, 500 + i)]), {
          attempts: 1,
        }),
      );
      expect(e.message).toBe(`crash at ${step}`);
      // Committed only when the crash came after the timestamp was written.
      if (step === 'verify' || step === 'release') expected.push(name);
      await c.updater.refresh();
      expect(await verifiedTags('crash/steps', root), step).toEqual([...expected].sort());
    }
    // A lease left held by a crash (release never ran) expires; then publishing goes on.
    const after = storage('crash/steps', { now: () => Date.now() + steps.length * 61_000 });
    await withRepository(after, repoOptions, (repo) => repo.addTargets([image('app:after', 599)]), quick);
    expect(await verifiedTags('crash/steps', root)).toEqual([...expected, 'app:after'].sort());
  });

  it('a publisher process SIGKILLed at random points: clients still verify the old or the new repository', async () => {
    const s = storage('crash/kill');
    await initRepository(s);
    const root = await trustedRoot(s);
    const c = await clientFor(proxy.host, 'crash/kill', USER, root, new MemoryMetadataStore());
    const child = join(__dirname, 'fixtures', 'publish-child.mjs');
    const signed = ['app:1.0'];
    for (const [i, ms] of [40, 120, 250, 400, 600, 900, undefined].entries()) {
      const tag = `app:kill-${i}`;
      const out = await new Promise<string>((resolve) => {
        const p = execFile(
          process.execPath,
          [child, `${proxy.host}/crash/kill`, tag, USER.username, USER.password],
          (_e, stdout) => resolve(stdout),
        );
        if (ms !== undefined) setTimeout(() => p.kill('SIGKILL'), ms);
      });
      await c.updater.refresh();
      const now = await verifiedTags('crash/kill', root);
      if (out.includes('published') || now.includes(tag)) signed.push(tag);
      expect(now).toEqual([...signed].sort());
    }
    // The last one is left to finish.
    expect(signed).toContain('app:kill-6');
  }, 60_000);
});
