/**
 * The publish lock of FsRepositoryStorage: what it records, when a lock left behind is taken
 * over (a process of this host and boot that is gone, or whose pid was reused) and when it never
 * is (another host, boot or PID namespace, no /proc, an unreadable record), that two takers of
 * one stale lock cannot both win, and `breakLock` for a person's decision.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PublishLockedError, StorageError, UnsafeNameError } from '../../src/errors.js';
import { TEMP_PREFIX } from '../../src/node/atomic.js';
import { FsRepositoryStorage, LOCK_FILE, type PublishLockInfo } from '../../src/node/index.js';
import {
  acquirePublishLock,
  type LockHolder,
  ProcessProbe,
  parseStartTime,
} from '../../src/node/publish-lock.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { rejection } from './helpers.js';

const linux = process.platform === 'linux';

let dir: string;
useTempDir('each', (d) => {
  dir = d;
});

const lockPath = () => join(dir, LOCK_FILE);
const startOf = async (pid: number) =>
  parseStartTime(await readFile(`/proc/${pid}/stat`, 'latin1')) as string;

/** This process as a lock records it. */
async function me(): Promise<LockHolder> {
  return {
    host: hostname(),
    bootId: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
    pidNamespace: await import('node:fs/promises').then((fs) => fs.readlink('/proc/self/ns/pid')),
    pid: process.pid,
    startTime: await startOf(process.pid),
    since: '2030-01-01T00:00:00.000Z',
  };
}

/** A lock file as another tufa process would have written it. */
async function plantLock(holder: Partial<LockHolder>, path = lockPath()): Promise<string> {
  const text = `${JSON.stringify({ format: 'tufa-publish-lock/1', ...(await me()), ...holder, nonce: '00' })}\n`;
  await writeFile(path, text);
  return text;
}

/** A process that ran and is gone: its pid and start time. */
async function deadProcess(): Promise<{ pid: number; startTime: string }> {
  const child: ChildProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    stdio: 'ignore',
  });
  await new Promise((r) => child.once('spawn', r));
  const pid = child.pid as number;
  const startTime = await startOf(pid);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  return { pid, startTime };
}

describe('parseStartTime (field 22 of /proc/PID/stat)', () => {
  const tail = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21';
  it('counts fields from the last parenthesis: the command name may hold spaces and parentheses', () => {
    expect(parseStartTime(`123 (node) ${tail}`)).toBe('424242');
    expect(parseStartTime(`123 (a) b (c) 1 2) ${tail}`)).toBe('424242');
    expect(parseStartTime(`123 ()) ) ${tail}\n`)).toBe('424242');
  });
  it('gives undefined for a malformed line', () => {
    expect(parseStartTime('123 node S 1 2')).toBeUndefined();
    expect(parseStartTime('123 (node) S 1 2 3')).toBeUndefined();
    expect(parseStartTime(`123 (node) ${tail.replace('424242', '-1')}`)).toBeUndefined();
  });
  it.runIf(linux)('reads the start time of this process', async () => {
    expect(await new ProcessProbe().startTimeOf(process.pid)).toMatch(/^\d+$/);
  });
});

describe.runIf(linux)('FsRepositoryStorage.lock', () => {
  it('records host, boot id, PID namespace, pid and process start time; release removes it', async () => {
    const storage = new FsRepositoryStorage(dir);
    const release = await storage.lock();
    const record = JSON.parse(await readFile(lockPath(), 'utf8'));
    const self = await me();
    expect(record).toMatchObject({
      format: 'tufa-publish-lock/1',
      host: self.host,
      bootId: self.bootId,
      pidNamespace: self.pidNamespace,
      pid: process.pid,
      startTime: self.startTime,
    });
    expect(Date.parse(record.since)).not.toBeNaN();
    await release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses while the holder runs, naming it; the lock is left as it is', async () => {
    const release = await new FsRepositoryStorage(dir).lock();
    const before = await readFile(lockPath());
    const e = await rejection(new FsRepositoryStorage(dir).lock());
    expect(e).toBeInstanceOf(PublishLockedError);
    expect(e).toMatchObject({ code: 'CONFLICT', holderState: 'running', lockPath: lockPath() });
    expect(e.message).toContain(
      `another publish is in progress (lock ${lockPath()} held by pid ${process.pid}`,
    );
    expect(await readFile(lockPath())).toEqual(before);
    await release();
  });

  it('takes over the lock of a process that is gone, and says whose it was', async () => {
    const dead = await deadProcess();
    await plantLock(dead);
    const taken: PublishLockInfo[] = [];
    const storage = new FsRepositoryStorage(dir, { onLockTakeover: (i) => taken.push(i) });
    const release = await storage.lock();
    expect(taken).toHaveLength(1);
    expect(taken[0]).toMatchObject({ state: 'gone', holder: { pid: dead.pid } });
    expect(taken[0]?.reason).toBe(`process ${dead.pid} is no longer running`);
    expect(JSON.parse(await readFile(lockPath(), 'utf8')).pid).toBe(process.pid);
    await release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over a lock whose pid now belongs to another process (another start time)', async () => {
    // This test's own pid is alive, but was not alive at tick 1.
    await plantLock({ pid: process.pid, startTime: '1' });
    const taken: PublishLockInfo[] = [];
    const release = await new FsRepositoryStorage(dir, { onLockTakeover: (i) => taken.push(i) }).lock();
    expect(taken[0]?.reason).toMatch(
      new RegExp(
        `^process ${process.pid} is no longer running \\(that pid now belongs to a process started at tick \\d+, not 1\\)$`,
      ),
    );
    await release();
  });

  it.each([
    ['another host', { host: 'build-elsewhere' }, 'it was taken on another host ("build-elsewhere")'],
    ['another boot', { bootId: '00000000-0000-0000-0000-000000000000' }, 'before this host last booted'],
    ['another PID namespace', { pidNamespace: 'pid:[1]' }, 'another PID namespace'],
    ['no start time', { startTime: null }, 'no process start time'],
  ])('never takes over a lock from %s, even when its pid is free here', async (_, fields, reason) => {
    const dead = await deadProcess();
    const text = await plantLock({ ...dead, ...fields });
    const e = await rejection(new FsRepositoryStorage(dir).lock());
    expect(e).toMatchObject({ code: 'CONFLICT', holderState: 'unknown' });
    expect(e.message).toContain(reason);
    expect(e.message).toContain(`pid ${dead.pid}`);
    expect(await readFile(lockPath(), 'utf8')).toBe(text);
  });

  it.each([
    ['an old-style record', '48121 2026-03-02T09:14:03.512Z\n'],
    ['an empty file', ''],
    ['JSON of another shape', '{"format":"tufa-publish-lock/1","pid":-1}'],
    [
      'a record with an escape sequence where a boot id belongs',
      `{"format":"tufa-publish-lock/1","host":"h","bootId":"\\u001b[2J","pidNamespace":null,"pid":7,"startTime":null,"since":"2030-01-01T00:00:00Z"}`,
    ],
  ])('never takes over %s', async (_, text) => {
    await writeFile(lockPath(), text);
    const e = await rejection(new FsRepositoryStorage(dir).lock());
    expect(e).toMatchObject({ code: 'CONFLICT', holderState: 'unknown' });
    expect(e.message).toContain('an unreadable lock record');
    expect(await readFile(lockPath(), 'utf8')).toBe(text);
  });

  it('fails closed where there is no /proc to check processes with', async () => {
    const dead = await deadProcess();
    const text = await plantLock(dead);
    const storage = new FsRepositoryStorage(dir, { procRoot: join(dir, 'no-proc') });
    const e = await rejection(storage.lock());
    expect(e).toMatchObject({ code: 'CONFLICT', holderState: 'unknown' });
    expect(e.message).toContain('no /proc to check processes with'.replace('/proc', join(dir, 'no-proc')));
    expect(await readFile(lockPath(), 'utf8')).toBe(text);
  });

  it('refuses a lock that is a symbolic link (and leaves its target alone)', async () => {
    await writeFile(join(dir, 'elsewhere'), 'x');
    await symlink(join(dir, 'elsewhere'), lockPath());
    const e = await rejection(new FsRepositoryStorage(dir).lock());
    expect(e).toBeInstanceOf(StorageError);
    expect((await lstat(lockPath())).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, 'elsewhere'), 'utf8')).toBe('x');
  });

  it('removes temporary files interrupted writes left in the repository and metadata/', async () => {
    await mkdir(join(dir, 'metadata'));
    await mkdir(join(dir, 'targets'));
    await writeFile(join(dir, 'metadata', `${TEMP_PREFIX}0123`), 'half a timestamp');
    await writeFile(join(dir, `${TEMP_PREFIX}4567`), 'a lock record');
    await writeFile(join(dir, 'metadata', '1.root.json'), '{}');
    // A target being stored outside a publish (no lock) is not the lock holder's to remove.
    await writeFile(join(dir, 'targets', `${TEMP_PREFIX}89ab`), 'target bytes');
    const release = await new FsRepositoryStorage(dir).lock();
    expect(await readdir(join(dir, 'metadata'))).toEqual(['1.root.json']);
    expect(await readdir(dir)).toEqual([LOCK_FILE, 'metadata', 'targets'].sort());
    expect(await readdir(join(dir, 'targets'))).toEqual([`${TEMP_PREFIX}89ab`]);
    await release();
  });

  it('never writes or reads a repository path in its own .tufa- namespace', async () => {
    const storage = new FsRepositoryStorage(dir);
    for (const path of [
      LOCK_FILE,
      `metadata/${TEMP_PREFIX}x`,
      'metadata/.tufa-publish.lock',
      'targets/.tufa-x/y',
    ]) {
      expect(await rejection(storage.write(path, new Uint8Array(1)))).toBeInstanceOf(UnsafeNameError);
      expect(await rejection(storage.read(path))).toBeInstanceOf(UnsafeNameError);
    }
    expect(await readdir(dir)).toEqual([]);
  });
});

/** A probe that holds every caller at the liveness check of another process until the test lets it go. */
class BarrierProbe extends ProcessProbe {
  readonly waiting: (() => void)[] = [];
  readonly allArrived: Promise<void>;
  private arrived: () => void = () => {};
  constructor(private readonly n: number) {
    super();
    this.allArrived = new Promise((r) => {
      this.arrived = r;
    });
  }
  override async startTimeOf(pid: number): Promise<string | 'gone' | undefined> {
    const r = await super.startTimeOf(pid);
    if (pid === process.pid) return r;
    await new Promise<void>((go) => {
      this.waiting.push(go);
      if (this.waiting.length === this.n) this.arrived();
    });
    return r;
  }
}

describe.runIf(linux)('taking over one stale lock from several processes at once', () => {
  // Every taker judges the same stale lock before any acts on it; then they act all at once, or
  // one after another (each later one acting on a judgement that is out of date).
  it.each(['all at once', 'one after another'])(
    'has exactly one winner (%s); every other taker is told the lock is held',
    async (mode) => {
      const dead = await deadProcess();
      for (let round = 0; round < 5; round++) {
        await plantLock(dead);
        const n = 6;
        const probe = new BarrierProbe(n);
        let settled = 0;
        const takers = Array.from({ length: n }, () =>
          acquirePublishLock(dir, { probe }).finally(() => {
            settled++;
          }),
        );
        const results = Promise.allSettled(takers);
        await probe.allArrived;
        if (mode === 'all at once') for (const go of probe.waiting) go();
        else {
          for (const go of probe.waiting) {
            const before = settled;
            go();
            while (settled === before) await new Promise((r) => setImmediate(r));
          }
        }
        const outcome = await results;
        const won = outcome.filter((r) => r.status === 'fulfilled');
        expect(won, `round ${round}`).toHaveLength(1);
        for (const r of outcome) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PublishLockedError);
        }
        expect(JSON.parse(await readFile(lockPath(), 'utf8')).pid).toBe(process.pid);
        // Nothing left but the lock: no claim, no temporary file.
        expect(await readdir(dir)).toEqual([LOCK_FILE]);
        await (won[0] as PromiseFulfilledResult<() => Promise<void>>).value();
        expect(await readdir(dir)).toEqual([]);
      }
    },
  );

  it('finishes the takeover of a taker that died after claiming the lock', async () => {
    const dead = await deadProcess();
    const deadTaker = await deadProcess();
    await plantLock(dead);
    const st = await stat(lockPath(), { bigint: true });
    const id = createHash('sha256')
      .update(`${st.dev}:${st.ino}:`)
      .update(await readFile(lockPath()))
      .digest('hex')
      .slice(0, 32);
    const claim = `${lockPath()}.takeover-${id}`;
    await plantLock(deadTaker, claim);
    const release = await new FsRepositoryStorage(dir).lock();
    expect(JSON.parse(await readFile(lockPath(), 'utf8')).pid).toBe(process.pid);
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
    await release();
  });

  it('leaves the lock to a taker that is still running', async () => {
    const dead = await deadProcess();
    const text = await plantLock(dead);
    const st = await stat(lockPath(), { bigint: true });
    const id = createHash('sha256').update(`${st.dev}:${st.ino}:`).update(text).digest('hex').slice(0, 32);
    await plantLock({}, `${lockPath()}.takeover-${id}`); // this (running) process
    const e = await rejection(new FsRepositoryStorage(dir).lock());
    expect(e).toMatchObject({ code: 'CONFLICT', holderState: 'running' });
    expect(e.message).toContain('is being taken over by pid');
    expect(await readFile(lockPath(), 'utf8')).toBe(text);
  });
});

describe.runIf(linux)('FsRepositoryStorage.inspectLock and breakLock', () => {
  it('shows a hostname with control characters and bidi overrides escaped', async () => {
    await plantLock({ host: 'evil\u001b[2J\u202ehost' });
    const e = await rejection(new FsRepositoryStorage(dir).lock());
    expect(e.message).toContain('on host "evil\\u{1b}[2J\\u{202e}host"');
    expect(e.message).not.toContain('\u001b');
    expect(e.message).not.toContain('\u202e');
  });

  it('inspectLock: undefined without a lock; holder, state and reason with one', async () => {
    const storage = new FsRepositoryStorage(dir);
    expect(await storage.inspectLock()).toBeUndefined();
    await plantLock({ host: 'ci-runner-7', pid: 4242 });
    expect(await storage.inspectLock()).toMatchObject({
      path: lockPath(),
      holder: { host: 'ci-runner-7', pid: 4242 },
      state: 'unknown',
      reason: 'it was taken on another host ("ci-runner-7")',
    });
  });

  it('breakLock removes a lock from another host, and then lock() works', async () => {
    const storage = new FsRepositoryStorage(dir);
    await plantLock({ host: 'ci-runner-7' });
    await storage.breakLock((await storage.inspectLock()) as PublishLockInfo);
    expect(await readdir(dir)).toEqual([]);
    await (await storage.lock())();
  });

  it('breakLock refuses while the holder runs here', async () => {
    const storage = new FsRepositoryStorage(dir);
    const release = await storage.lock();
    const e = await rejection(storage.breakLock((await storage.inspectLock()) as PublishLockInfo));
    expect(e).toMatchObject({ code: 'CONFLICT', holderState: 'running' });
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
    await release();
  });

  it('breakLock removes only the lock that was inspected, not one taken since', async () => {
    const storage = new FsRepositoryStorage(dir);
    await plantLock({ host: 'ci-runner-7' });
    const seen = (await storage.inspectLock()) as PublishLockInfo;
    const now = await plantLock({ host: 'ci-runner-8' });
    const e = await rejection(storage.breakLock(seen));
    expect(e).toMatchObject({ code: 'CONFLICT' });
    expect(e.message).toContain('changed since it was read');
    expect(await readFile(lockPath(), 'utf8')).toBe(now);
  });
});
