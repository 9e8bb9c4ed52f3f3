/**
 * The shell snippets of the docs fail closed, and the ones that can run here run.
 *
 * Every `sh`/`bash` fence in the docs is checked for what lets a script carry on after a failed
 * step (see CONTRIBUTING.md, "Commits"). Fences marked `<!-- snippet: run -->` are run, each
 * document's in order, as a reader following it would: with `bash -euo pipefail` (a `js` fence
 * with node) and the built `tufa` on PATH, in a sandbox whose directories and `tufa serve`
 * stand for the docs' `/srv/tuf`, `/media/usb` and `https://tuf.example.com/`. Fences marked
 * `<!-- snippet: fails-closed -->` cannot succeed here (they pull with docker) and are run with
 * plain `bash` against a repository where verification fails: they must stop before the pull.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Repository, TargetFile } from '@tufa/core';
import { FsRepositoryStorage, loadKeyFileSigner } from '@tufa/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectExit,
  expectJson,
  metadataDir,
  PASSPHRASE,
  Sandbox,
  type Served,
  startServe,
} from './helpers/cli.js';
import {
  docFiles,
  expectRan,
  extractFences,
  type Fence,
  failOpenFindings,
  headerSecrets,
  type Ran,
  REPO,
  readRepoFile,
  run,
  SHELL_LANGS,
  shellEnv,
  showRan,
  strayMarkers,
  tufaBinDir,
} from './helpers/snippets.js';

/** The migration guide's snippet reads tufa's JSON with jq (Debian package jq). */
const HAVE_JQ = spawnSync('jq', ['--version']).status === 0;
if (!HAVE_JQ && process.env.CI === 'true') {
  throw new Error(
    "jq is required under CI=true (apt-get install -y jq): the migration guide's snippet uses it",
  );
}

/** End-to-end runs of many CLI commands: no limit a loaded machine could hit. */
const LONG = 600_000;

const GUN = 'registry.example.com/team/app';
/** The digest the docs sign and verify. */
const DOCS_DIGEST = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

function allFences(): Fence[] {
  return docFiles().flatMap((f) => extractFences(f, readRepoFile(f)));
}

function marked(file: string, marker: string): Fence[] {
  const fences = extractFences(file, readRepoFile(file)).filter((f) => f.marker === marker);
  expect(fences.length, `${file} has no <!-- snippet: ${marker} --> fence`).toBeGreaterThan(0);
  return fences;
}

describe('the rules the snippets are checked against', () => {
  // The checker itself must be able to fail: each rule flags its own bad example.
  it.each([
    ['two commands without set', 'a\nb', /set -euo pipefail/],
    ['a failure left of && on a line before the last', 'set -euo pipefail\nfalse && x\ny', /&&/],
    ['export of a command substitution', 'set -euo pipefail\nexport T=$(cat f)\nx', /export's/],
    ['jq without -e in a substitution', 'd=$(tufa verify --json x | jq -r .digest)', /jq without -e/],
  ])('flags %s', (_what, text, message) => {
    expect(failOpenFindings(text, 'snippet').join('\n')).toMatch(message);
  });

  it.each([
    ['one command', 'tufa verify --server s x:1 --digest "$d"'],
    [
      'a guarded script',
      'set -euo pipefail\nv=$(tufa verify --json x)\nd=$(jq -er .digest <<<"$v")\necho "$d"',
    ],
    ['&& on the last line, and inside $( )', 'set -euo pipefail\nd=$(mkdir -p x && cd x && pwd)\na && b'],
  ])('accepts %s', (_what, text) => {
    expect(failOpenFindings(text, 'snippet')).toEqual([]);
  });

  it('flags a bearer token given with --header', () => {
    expect(headerSecrets(`tufa verify --header "Authorization: Bearer $T" x`)).toHaveLength(1);
    expect(headerSecrets(`--header 'authorization: Basic x'`)).toHaveLength(1);
    expect(headerSecrets('tufa verify --header "X-Request-Source: ci" x')).toHaveLength(0);
  });
});

describe('every shell snippet in the docs fails closed', () => {
  it('multi-command snippets start with set -euo pipefail, with no && before the last line, no export of $(…), jq -e', () => {
    const findings: string[] = [];
    let checked = 0;
    for (const fence of allFences()) {
      if (!SHELL_LANGS.has(fence.lang)) continue;
      checked++;
      for (const f of failOpenFindings(fence.body, 'snippet'))
        findings.push(`${fence.file}:${fence.line}: ${f}`);
    }
    expect(checked).toBeGreaterThan(40);
    expect(findings).toEqual([]);
  });

  it('no doc or example puts a credential header on a command line (TUFA_AUTH_TOKEN instead)', () => {
    const files = [
      ...docFiles(),
      'examples/ci/github-actions.yml',
      'examples/ci/release-sign.sh',
      'examples/ci/verify-pull.sh',
    ];
    const findings = files.flatMap((f) => headerSecrets(readRepoFile(f)).map((l) => `${f}: ${l}`));
    expect(findings).toEqual([]);
  });

  it('every snippet marker marks a fence, of a kind this test runs', () => {
    for (const file of docFiles()) {
      const text = readRepoFile(file);
      expect(strayMarkers(text), `${file}: a snippet marker not followed by a fence`).toEqual([]);
      for (const f of extractFences(file, text).filter((x) => x.marker !== undefined)) {
        expect(['run', 'fails-closed'], `${file}:${f.line}`).toContain(f.marker);
        expect(
          RUNNERS.has(file),
          `${file}:${f.line} is marked, but this test has no set-up for ${file}`,
        ).toBe(true);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Running the marked snippets

/** A reader's machine: TUFA_HOME, /srv/tuf, /media/usb, a work directory, tufa serve. */
class Reader {
  readonly sandbox = new Sandbox('tufa-docs-');
  readonly bin = tufaBinDir(this.sandbox.path('bin'));
  readonly srv = this.sandbox.path('srv', 'tuf');
  readonly usb = this.sandbox.path('media', 'usb');
  readonly work = this.sandbox.path('work');
  served: Served | undefined;

  constructor() {
    for (const d of [this.srv, this.usb, this.work]) mkdirSync(d, { recursive: true });
  }

  async serve(): Promise<void> {
    this.served = await startServe(this.sandbox, this.srv);
  }

  /** The docs' placeholders, as this sandbox's directories and server. */
  localise(text: string): string {
    let out = text.replaceAll('/srv/tuf', this.srv).replaceAll('/media/usb', this.usb);
    if (this.served) out = out.replaceAll('https://tuf.example.com/', this.served.url);
    // Nothing may reach a real host or a system directory.
    expect(out, 'a URL or directory left in a snippet meant to run here').not.toMatch(
      /https?:\/\/(?!127\.0\.0\.1)|(^|[\s"'=])\/(srv|media)\//m,
    );
    return out;
  }

  env(extra: Record<string, string | undefined> = {}): Record<string, string> {
    return shellEnv(this.bin, { ...this.sandbox.env, ...extra });
  }

  /** Runs a fence's text as a script file with `bash ARGS` (default: -euo pipefail). */
  async bash(
    fence: Fence,
    extra: Record<string, string | undefined> = {},
    args = ['-euo', 'pipefail'],
  ): Promise<Ran> {
    const file = this.sandbox.path(`snippet-${fence.file.replace(/\W+/g, '-')}-${fence.line}.sh`);
    writeFileSync(file, this.localise(fence.body));
    return run('bash', [...args, file], { cwd: this.work, env: this.env(extra) });
  }

  /** The publisher side, set up with the CLI: GUN published under /srv/tuf, its root in `dest`. */
  async publish(gun: string, tags: Record<string, string>): Promise<string> {
    expectExit(
      await this.sandbox.tufa(['init', gun, '--publish-root', this.srv, '--root-key-out', this.usb]),
      0,
    );
    for (const [tag, digest] of Object.entries(tags)) {
      expectExit(await this.sandbox.tufa(['sign', `${gun}:${tag}`, '--digest', digest, '--size', '528']), 0);
    }
    return join(metadataDir(this.srv, gun), '1.root.json');
  }

  async close(): Promise<void> {
    await this.served?.stop();
    this.sandbox.cleanup();
  }
}

function where(f: Fence): string {
  return `${f.file}:${f.line}`;
}

/** Each document with marked snippets, and how this test sets it up and checks it. */
const RUNNERS = new Map<string, () => void>([
  [
    'docs/guide-release-signing.md',
    () => {
      const reader = new Reader();
      beforeAll(() => reader.serve());
      afterAll(() => reader.close());

      it(
        'runs the marked snippets in order, as a release engineer following the guide',
        async () => {
          const fences = marked('docs/guide-release-signing.md', 'run');
          for (const f of fences) {
            expect(f.lang, where(f)).toBe('sh');
            expectRan(await reader.bash(f), 0);
          }
          // They did what the guide says: the tags are signed, one through the delegation.
          const listed = expectJson<{ tags: { tag: string; digest: string; role: string }[] }>(
            await reader.sandbox.tufa(['--json', 'list', GUN]),
          );
          expect(listed.tags.map((t) => [t.tag, t.digest, t.role])).toEqual([
            ['1.4.2', DOCS_DIGEST, 'targets'],
            ['v2.0.0', DOCS_DIGEST, 'releases'],
          ]);
          // The release-pipeline snippet made the CI secrets, each a key the published root uses.
          for (const role of ['targets', 'snapshot', 'timestamp']) {
            expect(existsSync(join(reader.work, `app-${role}.json.b64`)), role).toBe(true);
          }
        },
        LONG,
      );
    },
  ],
  [
    'docs/guide-ci-verification.md',
    () => {
      const reader = new Reader();
      let fence: Fence;
      beforeAll(async () => {
        await reader.serve();
        const root = await reader.publish(GUN, { '1.4.2': DOCS_DIGEST });
        mkdirSync(join(reader.work, '.tufa'));
        copyFileSync(root, join(reader.work, '.tufa', 'root.json'));
        [fence] = marked('docs/guide-ci-verification.md', 'run') as [Fence];
      }, LONG);
      afterAll(() => reader.close());

      it(
        'the gate for a digest you already have prints IMAGE@DIGEST for the signed digest',
        async () => {
          const r = expectRan(await reader.bash(fence, { DIGEST: DOCS_DIGEST }), 0);
          expect(r.stdout).toBe(`${GUN}@${DOCS_DIGEST}\n`);
        },
        LONG,
      );

      // Plain bash, as a reader's shell: only the snippet's own `set -euo pipefail` and checks
      // stop it. Without them the echo after a failed verify would print a reference to deploy.
      it.each([
        ['a digest that is not the signed one', digestOf('another image'), 4],
        ['an empty digest (tufa verify --digest "" would check none)', '', 2],
        ['no digest at all', undefined, 1],
      ])(
        'stops with %s, printing nothing to deploy',
        async (_what, digest, code) => {
          const r = expectRan(await reader.bash(fence, { DIGEST: digest }, []), code as number);
          expect(r.stdout, showRan(r)).toBe('');
        },
        LONG,
      );
    },
  ],
  [
    'docs/migrating-from-notary.md',
    () => {
      const reader = new Reader();
      const ACME = 'docker.io/acme/app';
      let fence: Fence;
      beforeAll(async () => {
        await reader.serve();
        // 1.4.1 is signed; 1.4.2, the tag the snippet asks for, is not (yet).
        const root = await reader.publish(ACME, { '1.4.1': DOCS_DIGEST });
        copyFileSync(root, join(reader.work, 'root.json'));
        [fence] = marked('docs/migrating-from-notary.md', 'fails-closed') as [Fence];
      }, LONG);
      afterAll(() => reader.close());

      /** Runs the snippet with plain bash, traced: the trace shows whether `docker pull` ran. */
      async function attempt(): Promise<Ran> {
        const r = await reader.bash(fence, {}, ['-x']);
        expect(r.code, showRan(r)).not.toBe(0);
        expect(r.stderr, 'the snippet went on to pull after a failed check').not.toMatch(/^\++ docker\b/m);
        return r;
      }

      it(
        'stops at tufa verify, with its exit code, when the tag is not signed',
        async () => {
          const r = await attempt();
          expect(r.code, showRan(r)).toBe(5);
        },
        LONG,
      );

      it.skipIf(!HAVE_JQ)(
        'stops at jq -e when the verified tag has no sha256 digest (jq -r would pull "@null")',
        async () => {
          // Another tool's repository may list only a sha512: `tufa verify --json` then says
          // `"digest": null` and exits 0. Signed here with the library and the CLI's keys.
          const keys = join(reader.sandbox.home, 'keys');
          const secrets = async () => PASSPHRASE;
          const signers = await Promise.all(
            ['targets', 'snapshot', 'timestamp'].map((r) =>
              loadKeyFileSigner(join(keys, `docker-io-acme-app-${r}.json`), secrets),
            ),
          );
          const storage = new FsRepositoryStorage(dirname(metadataDir(reader.srv, ACME)));
          const repo = await Repository.open(storage, { signers });
          await repo.addTargets([new TargetFile('1.4.2', 528, new Map([['sha512', 'ab'.repeat(64)]]))]);
          await repo.publish();
          const verified = expectJson(
            await reader.sandbox.tufa([
              '--json',
              'verify',
              '--server',
              reader.srv,
              '--root',
              join(reader.work, 'root.json'),
              `${ACME}:1.4.2`,
            ]),
          );
          expect(verified['digest']).toBeNull();
          const r = await attempt();
          expect(r.stderr).toMatch(/^\++ jq -er \.digest/m);
        },
        LONG,
      );
    },
  ],
  [
    'docs/publishing.md',
    () => {
      const reader = new Reader();
      let root: string;
      beforeAll(async () => {
        root = await reader.publish(GUN, {});
        // What the snippet reads and uploads, and @tufa/core resolvable from its directory.
        mkdirSync(join(reader.work, 'dist'));
        writeFileSync(join(reader.work, 'dist', 'tool-1.4.tar.gz'), 'the tool, version 1.4\n');
        mkdirSync(join(reader.work, 'node_modules', '@tufa'), { recursive: true });
        symlinkSync(join(REPO, 'packages', 'core'), join(reader.work, 'node_modules', '@tufa', 'core'));
      }, LONG);
      afterAll(() => reader.close());

      it(
        'the library snippet signs and publishes with the keys tufa init made',
        async () => {
          const [fence] = marked('docs/publishing.md', 'run') as [Fence];
          expect(fence.lang).toBe('js');
          const file = join(reader.work, 'publish.mjs');
          writeFileSync(file, reader.localise(fence.body));
          expectRan(await run(process.execPath, [file], { cwd: reader.work, env: reader.env() }), 0);

          // A client of the published repository sees both targets, verified.
          const verify = (tag: string) =>
            reader.sandbox.tufa(['--json', 'verify', '--server', reader.srv, '--root', root, GUN, tag]);
          expect(expectJson(await verify('1.4'))['digest']).toBe(DOCS_DIGEST);
          const tool = expectJson(await verify('downloads/tool-1.4.tar.gz'));
          const bytes = readFileSync(join(reader.work, 'dist', 'tool-1.4.tar.gz'));
          expect(tool['size']).toBe(bytes.length);
          const hex = String(tool['digest']).slice('sha256:'.length);
          expect(
            readFileSync(join(reader.srv, GUN, 'targets', 'downloads', `${hex}.tool-1.4.tar.gz`)),
          ).toEqual(bytes);
        },
        LONG,
      );
    },
  ],
]);

for (const [file, body] of RUNNERS) describe(`${file}: marked snippets`, body);
