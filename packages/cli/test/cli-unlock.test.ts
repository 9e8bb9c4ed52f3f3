/**
 * Publish locks tufa does not take over by itself, and `tufa unlock`: a lock from another host
 * stops `sign` with exit 8 and the hint `tufa unlock GUN`; `tufa unlock` shows the holder, asks
 * on a terminal, refuses without one unless `--yes`, and never removes the lock of a publish
 * that still runs on this host.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, digestOf, expectError, expectExit, expectJson, publisher, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-unlock-');
const GUN = 'registry.example.com/team/locked';
const repo = publisher(sandbox, GUN);
const REPO = join(repo.md, '..');
const LOCK = join(REPO, '.tufa-publish.lock');

const OTHER_HOST = {
  format: 'tufa-publish-lock/1',
  host: 'ci-runner-7',
  bootId: '0f0e0d0c-0b0a-0908-0706-050403020100',
  pidNamespace: 'pid:[4026531836]',
  pid: 4242,
  startTime: '123456',
  since: '2026-03-02T09:14:03.512Z',
  nonce: '00',
};

const plant = (record: object) => writeFileSync(LOCK, `${JSON.stringify(record)}\n`);
const sign = (tag: string) =>
  sandbox.tufa(['sign', `${GUN}:${tag}`, '--digest', digestOf(tag), '--size', '3']);

/** `tufa unlock GUN` on a pseudo-terminal (util-linux `script`), answering `answer`. */
function unlockOnTerminal(answer: string): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env, ...sandbox.env, TUFA_SCRYPT_N: '1024', NO_COLOR: '1' };
  const child = spawn('script', ['-qec', `"${process.execPath}" "${BIN}" unlock ${GUN}`, '/dev/null'], {
    cwd: sandbox.dir,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    output += c;
  });
  child.stdin.end(`${answer}\n`);
  return new Promise((done) => child.on('close', (code) => done({ code, output })));
}

const hasScript = ['/usr/bin/script', '/bin/script'].some((p) => existsSync(p));

beforeAll(() => repo.init());
afterAll(() => sandbox.cleanup());

describe('a lock tufa cannot judge (another host)', () => {
  it('stops tufa sign with exit 8, naming the holder, and the hint tufa unlock GUN', async () => {
    plant(OTHER_HOST);
    const r = await sign('blocked');
    expectError(
      r,
      8,
      `the repository is locked (lock ${LOCK} held by pid 4242 on host "ci-runner-7" since 2026-03-02T09:14:03.512Z)`,
      `tufa unlock ${GUN}`,
    );
    expect(r.stderr).toContain('it was taken on another host ("ci-runner-7")');
    expect(JSON.parse(readFileSync(LOCK, 'utf8'))).toEqual(OTHER_HOST);
  });

  it('tufa unlock without a terminal refuses unless --yes (exit 2), and leaves the lock', async () => {
    plant(OTHER_HOST);
    expectError(await sandbox.tufa(['unlock', GUN]), 2, 'without confirmation', `tufa unlock ${GUN} --yes`);
    expect(JSON.parse(readFileSync(LOCK, 'utf8'))).toEqual(OTHER_HOST);
  });

  it('tufa --json unlock --yes removes it and reports the holder; signing works again', async () => {
    plant(OTHER_HOST);
    const v = expectJson<{ holder: { ageSeconds: number } }>(
      await sandbox.tufa(['--json', 'unlock', GUN, '--yes']),
    );
    expect(v).toMatchObject({
      gun: GUN,
      lock: LOCK,
      unlocked: true,
      state: 'unknown',
      reason: 'it was taken on another host ("ci-runner-7")',
      holder: {
        host: 'ci-runner-7',
        bootId: OTHER_HOST.bootId,
        pidNamespace: OTHER_HOST.pidNamespace,
        pid: 4242,
        startTime: '123456',
        since: OTHER_HOST.since,
      },
    });
    expect(v.holder.ageSeconds).toBeGreaterThan(0);
    expect(existsSync(LOCK)).toBe(false);
    expectExit(await sign('after-unlock'), 0);
    expect(existsSync(LOCK)).toBe(false);
  });

  it('tufa unlock with no lock says so and exits 0', async () => {
    const r = expectExit(await sandbox.tufa(['unlock', GUN]), 0);
    expect(r.stdout).toBe(`${GUN} is not locked\n`);
    expect(expectJson(await sandbox.tufa(['--json', 'unlock', GUN]))).toMatchObject({
      unlocked: false,
      holder: null,
    });
  });

  it.runIf(hasScript || process.env.CI === 'true')(
    'on a terminal it shows the holder and asks; only yes removes the lock',
    async () => {
      plant(OTHER_HOST);
      const no = await unlockOnTerminal('n');
      expect(no.code, no.output).toBe(1);
      expect(no.output).toContain('holder   pid 4242 on host "ci-runner-7" since 2026-03-02T09:14:03.512Z');
      expect(no.output).toContain('state    unknown: it was taken on another host ("ci-runner-7")');
      expect(no.output).toContain('Remove this lock?');
      expect(no.output).toContain('Error: the publish lock of');
      expect(existsSync(LOCK)).toBe(true);
      const yes = await unlockOnTerminal('yes');
      expect(yes.code, yes.output).toBe(0);
      expect(yes.output).toContain(`removed the publish lock of ${GUN}`);
      expect(existsSync(LOCK)).toBe(false);
    },
  );
});

describe.runIf(process.platform === 'linux')('the lock of a publish still running on this host', () => {
  it('is never removed by tufa unlock, even with --yes (exit 8); sign waits for it (exit 8)', async () => {
    // This test process stands for the running publisher.
    const stat = readFileSync(`/proc/${process.pid}/stat`, 'latin1');
    const running = {
      ...OTHER_HOST,
      host: hostname(),
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      pidNamespace: readlinkSync('/proc/self/ns/pid'),
      pid: process.pid,
      startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
    };
    plant(running);
    expectError(
      await sandbox.tufa(['unlock', GUN, '--yes']),
      8,
      `${GUN} is being published: the lock ${LOCK} is held by pid ${process.pid}`,
    );
    expectError(
      await sign('while-running'),
      8,
      `another publish is in progress (lock ${LOCK} held by pid ${process.pid}`,
    );
    expect(JSON.parse(readFileSync(LOCK, 'utf8'))).toEqual(running);
  });
});
