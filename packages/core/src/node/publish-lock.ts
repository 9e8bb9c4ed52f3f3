/**
 * The publish lock of a repository directory (`.tufa-publish.lock`): who holds it, whether the
 * holder still runs, and an atomic takeover of a lock whose holder is gone.
 *
 * The lock records the holder's host (hostname, kernel boot id, PID namespace), its process id
 * and the process's start time. Process ids are reused, so the start time (field 22 of
 * /proc/PID/stat, in clock ticks since boot) is what identifies the process. A lock is judged
 * stale only when it was taken on this host, in this boot and this PID namespace, and its pid is
 * gone or now belongs to a process started at another time. Everything else fails closed (another
 * host, a previous boot, another container, no /proc): a person removes it (`breakPublishLock`,
 * `tufa unlock`).
 *
 * The lock file is created with its content in one step (written to a temporary file, then
 * hard-linked to the lock name), so it is never seen empty. A stale lock is replaced only by the
 * process that first creates the claim file named after that exact lock (its device, inode and
 * bytes), with O_EXCL semantics; the claim then replaces the stale lock by rename. Two processes
 * judging the same lock stale cannot both win, and a lock taken meanwhile is never replaced.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConflictError, PublishLockedError, StorageError } from '../errors.js';
import { errorCode, storageError, TEMP_PREFIX, tempPathIn } from './atomic.js';

/** The name of the publish lock file in a repository's directory. */
export const LOCK_FILE = '.tufa-publish.lock';
/** `.tufa-publish.lock.takeover-HASH`: the claim on one stale lock. */
const CLAIM_INFIX = '.takeover-';
const FORMAT = 'tufa-publish-lock/1';
/** A lock record is well under this; anything longer is not one. */
const MAX_RECORD = 4096;
/** How often a lock that keeps changing under us is looked at again before giving up. */
const ATTEMPTS = 5;

/** Who holds a publish lock. */
export interface LockHolder {
  /** The machine's hostname. */
  host: string;
  /** The kernel boot id (`/proc/sys/kernel/random/boot_id`); null where there is none. */
  bootId: string | null;
  /** The PID namespace (`pid:[4026531836]`): containers on one kernel differ; null where unknown. */
  pidNamespace: string | null;
  pid: number;
  /** The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); null where unknown. */
  startTime: string | null;
  /** When the lock was taken (ISO 8601). */
  since: string;
}

/** `running`: the holder still runs. `gone`: it does not (safe to take over). `unknown`: cannot tell from here. */
export type LockHolderState = 'running' | 'gone' | 'unknown';

/** One lock file as read: its identity on disk and its bytes. */
export interface LockInstance {
  readonly dev: string;
  readonly ino: string;
  readonly bytes: Uint8Array;
}

/**
 * A publish lock as found on disk: who holds it and whether that holder is still running, for a
 * person deciding whether to break it.
 */
export interface PublishLockInfo {
  /** The lock file. */
  path: string;
  /** The holder, or undefined when the file is not a lock record tufa wrote. */
  holder: LockHolder | undefined;
  /** Whether the holder is running, gone, or cannot be checked from here. */
  state: LockHolderState;
  /** Why, for people: `process 4242 is no longer running`. */
  reason: string;
  /** The exact lock that was read: `breakPublishLock` removes this one and no other. */
  instance: LockInstance;
}

/** null, or a string of the given shape: nothing from the file reaches a terminal unchecked but the hostname. */
const nullOr =
  (shape: RegExp) =>
  (v: unknown): v is string | null =>
    v === null || (typeof v === 'string' && shape.test(v));
const bootIdShape = nullOr(/^[0-9a-f-]{16,64}$/);
const pidNamespaceShape = nullOr(/^pid:\[\d{1,20}\]$/);
const startTimeShape = nullOr(/^\d{1,20}$/);
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/** The facts about processes and this host that the lock needs; `/proc` on Linux. */
export class ProcessProbe {
  private me: Promise<Omit<LockHolder, 'since'>> | undefined;

  /** `procRoot`: where procfs is mounted (tests point it at a directory without one). */
  constructor(readonly procRoot = '/proc') {}

  /** This process and host. */
  self(): Promise<Omit<LockHolder, 'since'>> {
    this.me ??= (async () => {
      const boot = await readFile(join(this.procRoot, 'sys', 'kernel', 'random', 'boot_id'), 'utf8').catch(
        () => '',
      );
      const ns = await readlink(join(this.procRoot, 'self', 'ns', 'pid')).catch(() => '');
      const start = await this.startTimeOf(process.pid);
      return {
        host: hostname(),
        bootId: boot.trim() !== '' && bootIdShape(boot.trim()) ? boot.trim() : null,
        pidNamespace: ns !== '' && pidNamespaceShape(ns) ? ns : null,
        pid: process.pid,
        startTime: start === 'gone' ? null : (start ?? null),
      };
    })();
    return this.me;
  }

  /**
   * The start time of process `pid` in this PID namespace; `gone` when there is no such process,
   * undefined when it cannot be told (no /proc, or /proc hides other users' processes).
   */
  async startTimeOf(pid: number): Promise<string | 'gone' | undefined> {
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    const exists = (): boolean | undefined => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (e) {
        // EPERM: it exists but belongs to another user.
        return errorCode(e) === 'ESRCH' ? false : errorCode(e) === 'EPERM' ? true : undefined;
      }
    };
    const before = exists();
    if (before !== true) return before === false ? 'gone' : undefined;
    let stat: string;
    try {
      stat = await readFile(join(this.procRoot, String(pid), 'stat'), 'latin1');
    } catch {
      return exists() === false ? 'gone' : undefined;
    }
    return parseStartTime(stat);
  }
}

/**
 * Field 22 (starttime) of a /proc/PID/stat line. Field 2 is the command name in parentheses and
 * may itself hold spaces and parentheses, so the fields are counted from the last `)`.
 */
export function parseStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state).
  const v = fields[22 - 3];
  return v !== undefined && /^\d{1,20}$/.test(v) ? v : undefined;
}

function encodeRecord(holder: LockHolder): Uint8Array {
  const record = { format: FORMAT, ...holder, nonce: randomBytes(8).toString('hex') };
  return new TextEncoder().encode(`${JSON.stringify(record)}\n`);
}

/** The holder a lock file names, or undefined when it is not a lock record tufa wrote. */
export function parseRecord(bytes: Uint8Array): LockHolder | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const r = v as Record<string, unknown>;
  if (
    r.format !== FORMAT ||
    typeof r.host !== 'string' ||
    r.host.length === 0 ||
    r.host.length > 256 ||
    !bootIdShape(r.bootId) ||
    !pidNamespaceShape(r.pidNamespace) ||
    !startTimeShape(r.startTime) ||
    typeof r.pid !== 'number' ||
    !Number.isSafeInteger(r.pid) ||
    r.pid <= 0 ||
    typeof r.since !== 'string' ||
    !ISO_TIME.test(r.since) ||
    Number.isNaN(Date.parse(r.since))
  ) {
    return undefined;
  }
  return {
    host: r.host,
    bootId: r.bootId,
    pidNamespace: r.pidNamespace,
    pid: r.pid,
    startTime: r.startTime,
    since: r.since,
  };
}

/** Text from a file, with anything but printable ASCII shown as an escape (DESIGN rule 13). */
function visible(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
}

/** `pid 4242 on host "build-7" since 2026-03-02T09:14:03.512Z`. */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'an unreadable lock record';
  return `pid ${holder.pid} on host "${visible(holder.host)}" since ${visible(holder.since)}`;
}

/** Whether the holder of a lock still runs, judged from this process. */
export async function judgeHolder(
  holder: LockHolder | undefined,
  probe: ProcessProbe,
): Promise<{ state: LockHolderState; reason: string }> {
  if (!holder) return { state: 'unknown', reason: 'the lock file is not a lock record tufa wrote' };
  const me = await probe.self();
  if (me.bootId === null || me.pidNamespace === null || me.startTime === null) {
    return { state: 'unknown', reason: `this system offers no ${probe.procRoot} to check processes with` };
  }
  if (holder.host !== me.host) {
    return { state: 'unknown', reason: `it was taken on another host ("${visible(holder.host)}")` };
  }
  if (holder.bootId !== me.bootId) {
    return {
      state: 'unknown',
      reason: 'it was taken before this host last booted, or on another host of the same name',
    };
  }
  if (holder.pidNamespace !== me.pidNamespace) {
    return { state: 'unknown', reason: 'it was taken in another PID namespace (another container)' };
  }
  if (holder.startTime === null) return { state: 'unknown', reason: 'it records no process start time' };
  const start = await probe.startTimeOf(holder.pid);
  if (start === 'gone') return { state: 'gone', reason: `process ${holder.pid} is no longer running` };
  if (start === undefined) {
    return { state: 'unknown', reason: `the start time of process ${holder.pid} cannot be read` };
  }
  if (start !== holder.startTime) {
    return {
      state: 'gone',
      reason: `process ${holder.pid} is no longer running (that pid now belongs to a process started at tick ${start}, not ${visible(holder.startTime)})`,
    };
  }
  return { state: 'running', reason: `process ${holder.pid} is still running` };
}

async function readInstance(path: string): Promise<LockInstance | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // No symlinks (DESIGN rule 14), and no blocking on a FIFO planted under the lock's name.
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw storageError('read the lock', path, e);
  }
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile()) throw new StorageError(`the lock ${JSON.stringify(path)} is not a regular file`);
    const buffer = new Uint8Array(MAX_RECORD + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return { dev: String(st.dev), ino: String(st.ino), bytes: buffer.slice(0, bytesRead) };
  } finally {
    await handle.close().catch(() => {});
  }
}

function sameInstance(a: LockInstance, b: LockInstance): boolean {
  return a.dev === b.dev && a.ino === b.ino && Buffer.from(a.bytes).equals(Buffer.from(b.bytes));
}

/** The lock at `path` and the state of its holder, or undefined when there is none. */
export async function inspectPublishLock(
  path: string,
  probe: ProcessProbe,
): Promise<PublishLockInfo | undefined> {
  const instance = await readInstance(path);
  if (!instance) return undefined;
  const holder = instance.bytes.length > MAX_RECORD ? undefined : parseRecord(instance.bytes);
  return { path, holder, ...(await judgeHolder(holder, probe)), instance };
}

function lockedError(info: PublishLockInfo): PublishLockedError {
  if (info.state === 'running') {
    return new PublishLockedError(
      `another publish is in progress (lock ${info.path} held by ${describeHolder(info.holder)}, which is still running)`,
      info.path,
      'running',
    );
  }
  return new PublishLockedError(
    `the repository is locked (lock ${info.path} held by ${describeHolder(info.holder)}), and whether that publish still runs cannot be told from here: ${info.reason}`,
    info.path,
    'unknown',
  );
}

/**
 * Creates `target` holding `bytes`, only if it does not exist: written to a temporary file and
 * hard-linked into place, so the target never exists without its content. `retry` when the
 * temporary file vanished before the link (a lock holder removes stray temporary files).
 */
async function createExclusive(
  dir: string,
  target: string,
  bytes: Uint8Array,
): Promise<'created' | 'exists' | 'retry'> {
  const temp = tempPathIn(dir);
  try {
    await writeFile(temp, bytes, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    throw storageError('create a temporary file in', dir, e);
  }
  try {
    await link(temp, target);
    return 'created';
  } catch (e) {
    const code = errorCode(e);
    if (code === 'EEXIST') return 'exists';
    if (code === 'ENOENT') return 'retry';
    // File systems without hard links: an exclusive create (a kill right after it leaves an
    // empty lock, which is then judged `unknown`: fail closed).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      try {
        await writeFile(target, bytes, { flag: 'wx', mode: 0o644 });
        return 'created';
      } catch (e2) {
        if (errorCode(e2) === 'EEXIST') return 'exists';
        throw storageError('create', target, e2);
      }
    }
    throw storageError('create', target, e);
  } finally {
    await rm(temp, { force: true }).catch(() => {});
  }
}

/** Removes `path` if it still holds exactly `bytes` (a lock or claim of ours). */
async function removeIfHolds(path: string, bytes: Uint8Array): Promise<void> {
  const current = await readInstance(path).catch(() => undefined);
  if (current && Buffer.from(current.bytes).equals(Buffer.from(bytes))) await rm(path, { force: true });
}

/**
 * Replaces the lock `stale` at `path` by one holding `bytes`, if this process is the one to claim
 * it. `changed` when `path` is no longer `stale` (someone else replaced or released it).
 */
async function replaceStale(
  dir: string,
  path: string,
  stale: LockInstance,
  bytes: Uint8Array,
  probe: ProcessProbe,
  allowUnknown: boolean,
  depth = 0,
): Promise<'replaced' | 'changed'> {
  const id = createHash('sha256')
    .update(`${stale.dev}:${stale.ino}:`)
    .update(stale.bytes)
    .digest('hex')
    .slice(0, 32);
  const claim = `${path}${CLAIM_INFIX}${id}`;
  for (let attempt = 0; ; attempt++) {
    if (attempt === ATTEMPTS) return 'changed';
    const made = await createExclusive(dir, claim, bytes);
    if (made === 'created') break;
    if (made === 'retry') continue;
    // Another process claimed this same lock. If it died while doing so, its claim is stale
    // in turn: claim the claim (bounded: each level needs a kill inside a few system calls).
    const other = await inspectPublishLock(claim, probe);
    if (!other) continue;
    if (other.state === 'running' || (other.state === 'unknown' && !allowUnknown) || depth >= 2) {
      throw new PublishLockedError(
        `the lock ${path} is being taken over by ${describeHolder(other.holder)} (${other.reason})`,
        path,
        other.state === 'running' ? 'running' : 'unknown',
      );
    }
    if (
      (await replaceStale(dir, claim, other.instance, bytes, probe, allowUnknown, depth + 1)) === 'replaced'
    )
      break;
  }
  // Only the holder of the claim replaces `stale`, so it is still there unless it was released.
  const current = await readInstance(path);
  if (!current || !sameInstance(current, stale)) {
    await removeIfHolds(claim, bytes);
    return 'changed';
  }
  try {
    await rename(claim, path);
  } catch (e) {
    await removeIfHolds(claim, bytes);
    throw storageError('take over the lock', path, e);
  }
  return 'replaced';
}

/** A new lock record for this process. */
async function newRecord(probe: ProcessProbe): Promise<Uint8Array> {
  return encodeRecord({ ...(await probe.self()), since: new Date().toISOString() });
}

/** A release function that removes the lock only while it is still ours, once. */
function releaser(path: string, bytes: Uint8Array): () => Promise<void> {
  let released: Promise<void> | undefined;
  return () => {
    released ??= removeIfHolds(path, bytes).catch((e) => {
      throw storageError('release the lock', path, e);
    });
    return released;
  };
}

export interface AcquireOptions {
  probe: ProcessProbe;
  /** Told about a stale lock that was taken over (to name the old holder to the user). */
  onTakeover?: ((previous: PublishLockInfo) => void) | undefined;
}

/**
 * Takes the publish lock of `dir`, taking over a lock whose holder is gone (same host, boot and
 * PID namespace; pid gone or reused). Resolves to the function that releases it. Throws
 * PublishLockedError when the holder runs or its state cannot be told from here.
 */
export async function acquirePublishLock(dir: string, options: AcquireOptions): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const bytes = await newRecord(options.probe);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const made = await createExclusive(dir, path, bytes);
    if (made === 'created') return releaser(path, bytes);
    if (made === 'retry') continue;
    const info = await inspectPublishLock(path, options.probe);
    if (!info) continue; // released meanwhile
    if (info.state !== 'gone') throw lockedError(info);
    if ((await replaceStale(dir, path, info.instance, bytes, options.probe, false)) === 'changed') continue;
    options.onTakeover?.(info);
    return releaser(path, bytes);
  }
  throw new PublishLockedError(
    `the lock ${path} kept changing while tufa tried to take it (other publishers are running)`,
    path,
    'running',
  );
}

/**
 * Removes the lock `info` describes, and no other: refuses when its holder runs, or when the
 * lock changed since it was read. For a person who checked that the holder is gone
 * (`tufa unlock`), including a lock from another host.
 */
export async function breakPublishLock(
  dir: string,
  info: PublishLockInfo,
  probe: ProcessProbe,
): Promise<void> {
  const current = await inspectPublishLock(info.path, probe);
  if (!current || !sameInstance(current.instance, info.instance)) {
    throw new ConflictError(`the lock ${info.path} changed since it was read: look at it again`);
  }
  if (current.state === 'running') throw lockedError(current);
  const bytes = await newRecord(probe);
  if ((await replaceStale(dir, info.path, info.instance, bytes, probe, true)) === 'changed') {
    throw new ConflictError(`the lock ${info.path} changed since it was read: look at it again`);
  }
  await removeIfHolds(info.path, bytes);
}

/**
 * Removes the temporary files of interrupted atomic writes (`.tufa-tmp-…`) from the places a
 * publish writes under the lock: the repository directory and `metadata/`. Only a lock holder
 * calls this; a process still creating a lock or claim there retries when its file vanishes.
 */
export async function removeStrayTempFiles(dir: string): Promise<void> {
  for (const d of [dir, join(dir, 'metadata')]) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) await rm(join(d, name), { force: true }).catch(() => {});
    }
  }
}
