/**
 * The CI examples in `examples/ci/` run end to end with the built `tufa`: the release script
 * signs and publishes with keys from the environment (through `tufa attach`). What needs a
 * registry (crane, docker buildx) is not run: the script takes the size from `--size` or the
 * environment instead, as documented.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, expectExit, expectJson, metadataDir, Sandbox } from './helpers/cli.js';
import {
  expectRan,
  failOpenFindings,
  type Ran,
  REPO,
  readRepoFile,
  run,
  shellEnv,
  tufaBinDir,
} from './helpers/snippets.js';

const LONG = 600_000;
const GUN = 'registry.example.com/team/app';
const SIGNED = digestOf('the release manifest');
const RELEASE_SIGN = join(REPO, 'examples', 'ci', 'release-sign.sh');

describe('examples/ci scripts fail closed', () => {
  it.each([['examples/ci/release-sign.sh']])(
    '%s is a bash script that starts with set -euo pipefail',
    (file) => {
      const text = readRepoFile(file);
      expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
      expect(failOpenFindings(text, 'script')).toEqual([]);
    },
  );
});

describe('examples/ci/release-sign.sh', () => {
  const sandbox = new Sandbox('tufa-ci-release-');
  const bin = tufaBinDir(sandbox.path('bin'));
  const pub = sandbox.path('pub');
  const tmp = sandbox.path('tmp');
  const secrets: Record<string, string> = {};
  const timestamp = () => readFileSync(join(metadataDir(pub, GUN), 'timestamp.json'));

  beforeAll(async () => {
    // As the release guide says: a key per online role, made the repository's keys, each
    // turned into a CI secret. The root key stays offline.
    for (const role of ['targets', 'snapshot', 'timestamp', 'stranger']) {
      expectExit(await sandbox.tufa(['key', 'generate', `app-${role}`, '--out', `./app-${role}.json`]), 0);
      secrets[role] = readFileSync(sandbox.path(`app-${role}.json`)).toString('base64');
    }
    const keys = ['targets', 'snapshot', 'timestamp'].flatMap((r) => [`--${r}-key`, `./app-${r}.json`]);
    expectExit(await sandbox.tufa(['init', GUN, '-p', pub, '--root-key-out', 'offline', ...keys]), 0);
    mkdirSync(tmp);
  }, LONG);
  afterAll(() => sandbox.cleanup());

  /** The pipeline job: a fresh machine, the keys and passphrase only in the environment. */
  function job(args: string[], extra: Record<string, string | undefined> = {}): Promise<Ran> {
    return run(RELEASE_SIGN, args, {
      cwd: sandbox.dir,
      env: shellEnv(bin, {
        TUFA_HOME: undefined,
        HOME: sandbox.path('job-home'),
        TMPDIR: tmp,
        PUBLISH_ROOT: pub,
        TUFA_PASSPHRASE: sandbox.env['TUFA_PASSPHRASE'],
        TUFA_TARGETS_KEY: secrets['targets'],
        TUFA_SNAPSHOT_KEY: secrets['snapshot'],
        TUFA_TIMESTAMP_KEY: secrets['timestamp'],
        ...extra,
      }),
    });
  }

  const verifyJson = async (tag: string) =>
    expectJson(
      await sandbox.tufa([
        '--json',
        'verify',
        '--server',
        pub,
        '--root',
        join(metadataDir(pub, GUN), '1.root.json'),
        `${GUN}:${tag}`,
      ]),
    );

  it(
    'attaches, signs with --size and publishes; leaves nothing behind in TMPDIR',
    async () => {
      const r = expectRan(await job([`${GUN}:1.4.2`, SIGNED, '--size', '528']), 0);
      expect(r.stderr).toMatch(/attached registry\.example\.com\/team\/app/);
      const v = await verifyJson('1.4.2');
      expect([v['digest'], v['size'], v['role']]).toEqual([SIGNED, 528, 'targets']);
      // The job's TUFA_HOME (its repository config naming the env: keys) is removed on exit.
      expect(readdirSync(tmp)).toEqual([]);
    },
    LONG,
  );

  it(
    'takes the size from MANIFEST_SIZE',
    async () => {
      expectRan(await job([`${GUN}:1.4.3`, SIGNED], { MANIFEST_SIZE: '1024' }), 0);
      expect((await verifyJson('1.4.3'))['size']).toBe(1024);
    },
    LONG,
  );

  it(
    'stops before signing when a secret holds a key root does not authorise (exit 6), publishing nothing',
    async () => {
      const before = timestamp();
      const r = expectRan(
        await job([`${GUN}:1.4.4`, SIGNED, '--size', '528'], { TUFA_TARGETS_KEY: secrets['stranger'] }),
        6,
      );
      expect(r.stderr).toMatch(/^Error: the key given for targets is not one of its keys in root/m);
      expect(timestamp()).toEqual(before);
      expect(readdirSync(tmp)).toEqual([]);
    },
    LONG,
  );

  it.each([
    ['no digest', [`${GUN}:1.4.5`]],
    ['--size without a value', [`${GUN}:1.4.5`, SIGNED, '--size']],
    ['an unknown option', [`${GUN}:1.4.5`, SIGNED, '--sise', '528']],
    ['a digest reference instead of a tag', [`${GUN}@${SIGNED}`, SIGNED, '--size', '528']],
  ])(
    'refuses %s with exit 2, publishing nothing',
    async (_what, args) => {
      const before = timestamp();
      expectRan(await job(args), 2);
      expect(timestamp()).toEqual(before);
    },
    LONG,
  );
});
