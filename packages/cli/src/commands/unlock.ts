/**
 * `tufa unlock GUN`: removes a publish lock that tufa does not take over by itself (one taken on
 * another host or before a reboot, or where processes cannot be checked), on a person's word.
 * Shows the holder; asks on a terminal; without one, refuses unless `--yes`. Never removes the
 * lock of a publish that is still running on this host. The policy lives in core
 * (`FsRepositoryStorage.inspectLock` / `breakLock`). Only a directory has such a lock: a
 * registry's publish lease expires by itself, and a trust server orders uploads itself.
 */
import { createInterface } from 'node:readline/promises';
import { describeHolder, LOCK_FILE, type PublishLockInfo } from '@tufa/core/node';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { publishedDir, readRepoConfig } from '../home.js';
import { locationId } from '../locations.js';
import { checkGun } from '../names.js';
import { publishStorage } from '../repo.js';

/** `3 h 12 min`, `2 d 4 h`. */
function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function holderJson(info: PublishLockInfo, now: Date) {
  const h = info.holder;
  return {
    lock: info.path,
    holder: h
      ? {
          host: h.host,
          bootId: h.bootId,
          pidNamespace: h.pidNamespace,
          pid: h.pid,
          startTime: h.startTime,
          since: h.since,
          ageSeconds: Math.max(0, Math.floor((now.getTime() - Date.parse(h.since)) / 1000)),
        }
      : null,
    state: info.state,
    reason: info.reason,
  };
}

function holderText(info: PublishLockInfo, now: Date): string {
  const h = holderJson(info, now).holder;
  return [
    `lock     ${info.path}`,
    `holder   ${describeHolder(info.holder)}`,
    ...(h
      ? [
          `process  started at clock tick ${h.startTime ?? 'unknown'} of boot ${h.bootId ?? 'unknown'}`,
          `age      ${age(h.ageSeconds)}`,
        ]
      : []),
    `state    ${info.state}: ${info.reason}`,
  ].join('\n');
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'unlock',
    description: 'remove a publish lock left by a publish that is gone (e.g. on another host)',
    arguments: [argument('<gun>', 'repository')],
    options: [option('-y, --yes', 'remove the lock without asking (the holder must be gone)')],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const at = (await readRepoConfig(gun)).publishTo;
      if (at.kind === 'oci') {
        throw usage(
          `${gun} is published at ${at.location}: a registry has no lock file to remove; its publish lease (the tag _tufa.lease) expires by itself two minutes after a publish stops`,
          `wait for the lease to expire, then run the command again (docs/tuf-in-oci.md, "Publishing")`,
        );
      }
      if (at.kind === 'http') {
        throw usage(
          `${gun} is published at ${locationId(at)}: a trust server orders uploads itself and leaves no lock behind`,
          'run the command again; a conflict answer names the version now current',
        );
      }
      const storage = publishStorage(publishedDir(at.dir, gun), gun);
      const info = await storage.inspectLock();
      const now = new Date();
      if (!info) {
        ctx.out.result(
          {
            gun,
            lock: `${storage.dir}/${LOCK_FILE}`,
            holder: null,
            state: null,
            reason: null,
            unlocked: false,
          },
          () => `${gun} is not locked`,
        );
        return EXIT.OK;
      }
      if (info.state === 'running') {
        throw new CliError(
          `${gun} is being published: the lock ${info.path} is held by ${describeHolder(info.holder)}, which is still running`,
          EXIT.CONFLICT,
        );
      }
      if (!opts.yes) {
        if (!process.stdin.isTTY || !process.stderr.isTTY) {
          throw new CliError(
            `not removing the publish lock of ${gun} (held by ${describeHolder(info.holder)}) without confirmation, and this is not a terminal`,
            EXIT.USAGE,
            `tufa unlock ${gun} --yes`,
          );
        }
        process.stderr.write(`${holderText(info, now)}\n`);
        const yes = await confirm(
          `Remove this lock? Only if no publish of ${gun} runs any more on that host. [y/N] `,
        );
        if (!yes)
          throw new CliError(
            `the publish lock of ${gun} was not removed`,
            EXIT.FAILURE,
            undefined,
            'DECLINED',
          );
      }
      await storage.breakLock(info);
      ctx.out.result({ gun, ...holderJson(info, now), unlocked: true }, () =>
        [`removed the publish lock of ${gun}`, holderText(info, now)].join('\n'),
      );
      return EXIT.OK;
    },
  }),
];
