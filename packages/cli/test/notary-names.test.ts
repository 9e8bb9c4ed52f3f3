/**
 * `tufa notary migrate` applies the tag-name policy to what a Notary collection signs: a
 * collection made with the real `notary` CLI against a real notary-server, holding tags with a
 * bidi override, a zero-width space, a C1 control character and a `..` segment beside a plain
 * one. Only the plain one is imported; the others are listed as refused, escaped.
 *
 * Runs the built CLI (npx tsc -b first). Skips when notary-server is missing, except under
 * CI=true.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExit, runTufa } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '../../..');
const HAVE_NOTARY = existsSync('/usr/bin/notary-server') && existsSync('/usr/bin/notary');
const GUN = 'example.com/names/app';
const TLS = join(ROOT, 'test-vectors/tls');
const PLANTED = ['v1\u202e', 'la\u200btest', 'a\u0085b', 'x/../y'];

if (!HAVE_NOTARY && process.env.CI === 'true') {
  throw new Error('notary-server and notary are required under CI=true (apt-get install -y notary)');
}

let work = '';
let serverPid = 0;

function notary(config: string, ...args: string[]): void {
  const r = spawnSync('notary', ['-c', config, ...args], {
    encoding: 'utf8',
    timeout: 240_000,
    env: {
      ...process.env,
      NOTARY_ROOT_PASSPHRASE: 'test-only-root',
      NOTARY_TARGETS_PASSPHRASE: 'test-only-targets',
      NOTARY_SNAPSHOT_PASSPHRASE: 'test-only-snapshot',
    },
  });
  if (r.status !== 0) throw new Error(`notary ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
}

describe.skipIf(!HAVE_NOTARY)('tufa notary migrate and the tag-name policy', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tufa-notary-names-'));
    const started = spawnSync('bash', [join(ROOT, 'scripts/notary/start-server.sh'), join(work, 'server')], {
      encoding: 'utf8',
    });
    if (started.status !== 0) throw new Error(`notary-server did not start: ${started.stderr}`);
    const [url, pid] = started.stdout.trim().split(' ');
    serverPid = Number(pid);
    const config = join(work, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        trust_dir: join(work, 'trust'),
        remote_server: { url, root_ca: join(TLS, 'ca.pem') },
      }),
    );
    notary(config, 'init', GUN);
    for (const [i, tag] of ['plain', ...PLANTED].entries()) {
      notary(config, 'addhash', GUN, tag, String(10 + i), '--sha256', String(i).repeat(64));
    }
    notary(config, 'publish', GUN);
    notary(config, 'list', GUN); // fills the client cache (timestamp, snapshot) in the trust directory
  }, 120_000);

  afterAll(() => {
    if (serverPid) process.kill(serverPid);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('imports the plain tag and refuses the others, escaped, with the rule broken', async () => {
    const env = {
      TUFA_HOME: join(work, 'home'),
      TUFA_PASSPHRASE: 'correct-Horse-battery-9137',
      TUFA_SCRYPT_N: '1024',
    };
    const pub = join(work, 'publish');
    expectExit(
      await runTufa(['init', GUN, '--publish-root', pub, '--root-key-out', join(work, 'offline')], { env }),
      0,
    );
    const r = await runTufa(['--json', 'notary', 'migrate', GUN, '--trust-dir', join(work, 'trust')], {
      env,
    });
    expectExit(r, 0);
    const out = JSON.parse(r.stdout) as {
      imported: { tag: string }[];
      refused: { tag: string; reason: string }[];
    };
    expect(out.imported.map((i) => i.tag)).toEqual(['plain']);
    const reasons = new Map(out.refused.map((x) => [x.tag, x.reason]));
    expect([...reasons.keys()].sort()).toEqual([...PLANTED].sort());
    expect(reasons.get('v1\u202e')).toBe(
      'tag "v1\\u202e" has the invisible Unicode format character \\u202e at position 3 (bidi controls and zero-width characters make a name look like another)',
    );
    expect(reasons.get('la\u200btest')).toContain('format character \\u200b at position 3');
    expect(reasons.get('a\u0085b')).toContain('control character \\x85 at position 2');
    expect(reasons.get('x/../y')).toContain('".." segment at position 3');

    const v = await runTufa(
      ['--json', 'verify', '--server', pub, '--root', join(pub, GUN, 'metadata/1.root.json'), `${GUN}:plain`],
      { env },
    );
    expect(JSON.parse(expectExit(v, 0).stdout).size).toBe(10);
  });
});
