/**
 * Names from users and files through the built CLI: delegated roles named after
 * Object.prototype members or integers work end to end, and a repository's `config.json` that
 * is not as tufa writes it is refused (exit 7, the file and field named, a Hint), never
 * half-used and never an internal error.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectError,
  expectExit,
  expectJson,
  publisher,
  Sandbox,
  snapshotTree,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-config-');
const GUN = 'registry.example.com/team/config';
const repo = publisher(sandbox, GUN);
const { pub: PUB, md: MD } = repo;
const CONFIG = join(sandbox.home, 'repos', encodeURIComponent(GUN).replace(/\./g, '%2E'), 'config.json');
const ROLES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', '0', '17'];

beforeAll(async () => {
  await repo.init();
  expectExit(await sandbox.tufa(['key', 'generate', 'delegate']), 0);
});
afterAll(() => sandbox.cleanup());

describe('delegated roles named like Object.prototype members or integers', () => {
  it('can be added, signed into, listed, verified, rotated and removed', async () => {
    for (const role of ROLES) {
      expectExit(
        await sandbox.tufa(['delegation', 'add', GUN, role, '--key', 'delegate', '--paths', `${role}-*`]),
        0,
      );
      const signed = await sandbox.tufa([
        '--json',
        'sign',
        `${GUN}:${role}-v1`,
        '--role',
        role,
        '--digest',
        digestOf(role),
        '--size',
        '1',
      ]);
      expect(expectJson<{ signed: { role: string }[] }>(signed).signed[0]?.role).toBe(role);
    }
    const config = JSON.parse(readFileSync(CONFIG, 'utf8'));
    expect(Object.keys(config.delegations).sort()).toEqual([...ROLES].sort());

    const listed = expectJson<{ roles: { role: string }[] }>(
      await sandbox.tufa(['--json', 'delegation', 'list', GUN]),
    );
    expect(listed.roles.map((r) => r.role)).toEqual(ROLES);
    const tags = expectJson<{ tags: { tag: string; role: string }[] }>(
      await sandbox.tufa(['--json', 'list', GUN]),
    );
    expect(tags.tags.map((t) => `${t.tag} ${t.role}`).sort()).toEqual(
      ROLES.map((r) => `${r}-v1 ${r}`).sort(),
    );

    const root = join(MD, '1.root.json');
    for (const role of ROLES) {
      const v = await sandbox.tufa([
        '--json',
        'verify',
        '--server',
        PUB,
        '--root',
        root,
        `${GUN}:${role}-v1`,
      ]);
      expect(expectJson<{ role: string; digest: string }>(v)).toMatchObject({ role, digest: digestOf(role) });
    }

    // Rotating a delegated role's key records the new key under that name.
    const rotated = expectJson<{ key: string }>(
      await sandbox.tufa(['--json', 'key', 'rotate', GUN, 'constructor']),
    );
    expect(JSON.parse(readFileSync(CONFIG, 'utf8')).delegations.constructor).toBe(rotated.key);
    expectExit(
      await sandbox.tufa([
        'sign',
        `${GUN}:constructor-v2`,
        '-r',
        'constructor',
        '-d',
        digestOf('c2'),
        '-s',
        '2',
      ]),
      0,
    );

    for (const role of ['__proto__', 'constructor', '0']) {
      expectExit(await sandbox.tufa(['delegation', 'remove', GUN, role]), 0);
    }
    const after = JSON.parse(readFileSync(CONFIG, 'utf8'));
    expect(Object.keys(after.delegations).sort()).toEqual(['17', 'hasOwnProperty', 'toString']);
    const left = expectJson<{ roles: { role: string }[] }>(
      await sandbox.tufa(['--json', 'delegation', 'list', GUN]),
    );
    expect(left.roles.map((r) => r.role)).toEqual(['toString', 'hasOwnProperty', '17']);
  });

  it('a role that was never configured has no key: signing into it is refused, not an internal error', async () => {
    const r = await sandbox.tufa([
      'sign',
      `${GUN}:valueOf-v1`,
      '--role',
      'valueOf',
      '-d',
      digestOf('v'),
      '-s',
      '1',
    ]);
    expectError(r, 5, 'no role delegates to "valueOf"');
  });
});

describe('a config.json that is not as tufa writes it (exit 7, file and field named, with a Hint)', () => {
  const cases: [string, (c: Record<string, unknown>) => string, string][] = [
    ['truncated', (c) => JSON.stringify(c).slice(0, 40), ': not valid JSON (invalid JSON at byte 40'],
    [
      'a delegation reference that is an object',
      (c) => JSON.stringify({ ...c, delegations: '@' }).replace('"@"', '{"constructor":{"uri":"x"}}'),
      ' (delegations."constructor"): expected a key reference (a string), found an object',
    ],
    [
      'a __proto__ field',
      (c) => `{"__proto__":{"keys":{}},${JSON.stringify(c).slice(1)}`,
      ' ("__proto__"): unknown field (expected only gun, publishRoot, publishTo, ca, keys, delegations)',
    ],
    [
      'a key reference missing',
      (c) => JSON.stringify({ ...c, keys: { targets: 'file:/x', snapshot: 'file:/y' } }),
      ' (keys.timestamp): expected a key reference (a string), found nothing',
    ],
    [
      'another GUN',
      (c) => JSON.stringify({ ...c, gun: 'registry.example.com/team/other' }),
      ' (gun): expected the GUN "registry.example.com/team/config", found the string "registry.example.com/team/other"',
    ],
  ];

  it.each(cases)('%s', async (_, edit, message) => {
    const good = readFileSync(CONFIG, 'utf8');
    try {
      writeFileSync(CONFIG, edit(JSON.parse(good)));
      const before = snapshotTree(MD);
      for (const args of [
        ['sign', `${GUN}:x`, '-d', digestOf('x'), '-s', '1'],
        ['delegation', 'remove', GUN, 'toString'],
        ['list', GUN],
        ['timestamp', GUN],
      ]) {
        const r = await sandbox.tufa(args);
        expectError(
          r,
          7,
          `${CONFIG}${message}`,
          `correct ${CONFIG}, or remove it and run: tufa attach ${GUN} --publish-root DIR`,
        );
      }
      const json = await sandbox.tufa(['--json', 'list', GUN]);
      expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'STORAGE', exitCode: 7 });
      expect(snapshotTree(MD)).toEqual(before);
    } finally {
      writeFileSync(CONFIG, good);
    }
  });
});

describe('trust pins that are not as tufa writes them (exit 7, the file named, a Hint to pin again)', () => {
  const { home: CLIENT, tufa: client } = sandbox.client(sandbox.path('client-home'));
  let trust = '';

  beforeAll(async () => {
    expectExit(await sandbox.tufa(['sign', `${GUN}:pinned`, '-d', digestOf('p'), '-s', '1']), 0);
    const r = await client(['verify', '--server', PUB, '--root', join(MD, '1.root.json'), `${GUN}:pinned`]);
    expectExit(r, 0);
    trust = join(
      CLIENT,
      'trust',
      readdirSync(join(CLIENT, 'trust'))[0] as string,
      encodeURIComponent(GUN).replace(/\./g, '%2E'),
    );
  });

  const sha = 'a'.repeat(64);
  const cases: [string, string, string][] = [
    ['chain.json', 'null', ': expected a JSON object of root version → sha256, found null'],
    ['chain.json', `["${sha}"]`, ': expected a JSON object of root version → sha256, found an array'],
    ['chain.json', `{"constructor":"${sha}"}`, ' ("constructor"): expected a root version'],
    ['chain.json', `{"__proto__":"${sha}"}`, ' ("__proto__"): expected a root version'],
    [
      'chain.json',
      '{"1":5}',
      ' (1): expected the sha256 of a root file (64 lower-case hex digits), found number',
    ],
    ['chain.json', '{"1":"', ': not valid JSON'],
    ['metadata/root.json', '{"signed":{}}', ': not root metadata'],
  ];

  it.each(cases)('%s holding %s', async (file, content, message) => {
    const path = join(trust, file);
    const good = readFileSync(path);
    try {
      writeFileSync(path, content);
      for (const root of [[], ['--root', join(MD, '1.root.json')]]) {
        const r = await client(['verify', '--server', PUB, ...root, `${GUN}:pinned`]);
        expectError(r, 7, `${path}${message}`, `remove ${trust} and run again with --root ROOT.json`);
      }
      expect(readFileSync(path, 'latin1')).toBe(content); // left for a person to look at
    } finally {
      writeFileSync(path, good);
    }
    expectExit(await client(['verify', '--server', PUB, `${GUN}:pinned`]), 0);
  });
});
