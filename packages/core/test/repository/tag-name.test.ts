import { describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../../src/client/store.js';
import { Updater } from '../../src/client/updater.js';
import { TagNameError, type TufError } from '../../src/errors.js';
import { TargetFile } from '../../src/metadata/files.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { checkTagName, showTagName } from '../../src/repository/tag-name.js';
import { fixedSigner } from '../helpers/keys.js';
import { METADATA_URL, Simulator, TARGETS_URL } from '../helpers/simulator.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');

function refusal(name: string): TagNameError {
  try {
    checkTagName(name);
  } catch (e) {
    expect(e).toBeInstanceOf(TagNameError);
    return e as TagNameError;
  }
  throw new Error(`${JSON.stringify(name)} was accepted`);
}

function target(path: string, n = 1): TargetFile {
  return new TargetFile(path, 100 + n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));
}

/** [name, rule, position, what the message must show instead of the raw character] */
const REFUSED: [string, string, number | undefined, string | undefined][] = [
  ['', 'empty', undefined, undefined],
  ['a'.repeat(256), 'too-long', undefined, 'found 256'],
  ['é'.repeat(128), 'too-long', undefined, 'found 256'], // 128 characters, 256 bytes of UTF-8
  ['😀'.repeat(64), 'too-long', undefined, 'found 256'],
  ['/etc/passwd', 'leading-slash', 1, undefined],
  ['/', 'leading-slash', 1, undefined],
  ['a\\b', 'backslash', 2, undefined],
  ['\\', 'backslash', 1, undefined],
  ['.', 'dot-segment', 1, undefined],
  ['..', 'dot-segment', 1, undefined],
  ['../x', 'dot-segment', 1, undefined],
  ['a/./b', 'dot-segment', 3, undefined],
  ['a/..', 'dot-segment', 3, undefined],
  ['./a', 'dot-segment', 1, undefined],
  ['a/.', 'dot-segment', 3, undefined],
  ['a/b/../c', 'dot-segment', 5, undefined],
  ['é/../x', 'dot-segment', 3, undefined],
  ['a\u0000b', 'control-character', 2, '\\x00'],
  ['v1\n', 'control-character', 3, '\\x0a'],
  ['\u001b[2Jv1', 'control-character', 1, '\\x1b'],
  ['a\u007f', 'control-character', 2, '\\x7f'],
  ['a\u0080', 'control-character', 2, '\\x80'], // C1
  ['a\u009b31m', 'control-character', 2, '\\x9b'], // C1 CSI
  ['a\u009f', 'control-character', 2, '\\x9f'],
  ['1.0\u202e', 'format-character', 4, '\\u202e'], // RIGHT-TO-LEFT OVERRIDE
  ['\u2066v1\u2069', 'format-character', 1, '\\u2066'], // LEFT-TO-RIGHT ISOLATE
  ['v\u2067', 'format-character', 2, '\\u2067'],
  ['v\u2068', 'format-character', 2, '\\u2068'],
  ['v1\u2069', 'format-character', 3, '\\u2069'],
  ['la\u200btest', 'format-character', 3, '\\u200b'], // ZERO WIDTH SPACE
  ['\ufeffv1', 'format-character', 1, '\\ufeff'],
  ['😀\u{e0001}', 'format-character', 2, '\\u{e0001}'], // LANGUAGE TAG, beyond the BMP
  ['a\u2028b', 'line-separator', 2, '\\u2028'],
  ['a\u2029b', 'line-separator', 2, '\\u2029'],
  ['a\ud800b', 'lone-surrogate', 2, '\\ud800'],
];

describe('checkTagName refuses', () => {
  it.each(REFUSED)('%j (%s at %s)', (name, rule, position, shown) => {
    const e = refusal(name);
    expect(e.code).toBe('USAGE');
    expect(e.rule).toBe(rule);
    expect(e.position).toBe(position);
    if (shown !== undefined) expect(e.message).toContain(shown);
    if (position !== undefined && rule !== 'leading-slash')
      expect(e.message).toContain(`position ${position}`);
    // Never the raw character: nothing invisible or controlling reaches a terminal.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not appear
    expect(e.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]|\p{Cs}/u);
  });

  it('names where the tag came from', () => {
    try {
      checkTagName('a\\b', { source: 'tags.txt:7' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/^tags\.txt:7: tag "a\\\\b" has a backslash at position 2/);
    }
  });

  it('cuts long names in messages', () => {
    const e = refusal('x'.repeat(300));
    expect(e.message).toContain(`"${'x'.repeat(80)}…"`);
    expect(e.message.length).toBeLessThan(250);
  });
});

describe('checkTagName accepts', () => {
  it('OCI tags without a warning', () => {
    for (const name of ['latest', '1.4.2', 'v1.0.0-rc.1', '_x', 'A'.repeat(128), 'a..b', 'a.', '0'])
      expect([name, checkTagName(name)]).toEqual([name, []]);
  });

  it('other names, with a warning that they are not OCI tags', () => {
    for (const name of [
      'registry.example.com/app:1.0',
      'app/v1.tar.gz',
      '.hidden',
      '-x',
      'a b',
      'a'.repeat(129),
      'a'.repeat(255),
      'é'.repeat(127),
      'a//b',
      'a/',
      '...',
      'a/.../b',
      'café',
      '%2e%2e/x',
    ]) {
      const warnings = checkTagName(name);
      expect([name, warnings.map((w) => w.rule)]).toEqual([name, ['oci-grammar']]);
      expect(warnings[0]?.message).toContain('not an OCI image tag');
    }
  });
});

describe('showTagName', () => {
  it('escapes what a person cannot see and quotes the rest', () => {
    expect(showTagName('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(showTagName('\u001b[31mred')).toBe('"\\x1b[31mred"');
    expect(showTagName('x\u00a0y\u3000z')).toBe('"x\\xa0y\\u3000z"');
    expect(showTagName('a b é 😀')).toBe('"a b é 😀"');
  });
});

describe('Repository.addTargets', () => {
  async function newRepository(storage: MemoryRepositoryStorage) {
    const keys = [101, 102, 103, 104].map((n) => fixedSigner(n));
    const [root, targets, snapshot, timestamp] = keys.map((k) => k.key);
    return Repository.create(storage, {
      keys: {
        root: [root!],
        targets: [targets!],
        snapshot: [snapshot!],
        timestamp: [timestamp!],
      },
      signers: keys,
      now: () => NOW,
    });
  }

  it('refuses a name the policy refuses, and stages none of the batch', async () => {
    const repo = await newRepository(new MemoryRepositoryStorage());
    await repo.publish();
    for (const [name, rule] of REFUSED) {
      let e: TufError | undefined;
      try {
        await repo.addTargets([target('fine'), target(name, 2)]);
      } catch (x) {
        e = x as TufError;
      }
      expect([name, e?.name, (e as TagNameError | undefined)?.rule]).toEqual([name, 'TagNameError', rule]);
      expect(await repo.listTargets()).toEqual([]);
      expect(repo.hasChanges).toBe(false);
    }
  });
});

describe('a repository that already holds a name signing refuses', () => {
  const planted = ['1.0\u202e', 'la\u200btest', 'a\u009bb', '../x', 'a\\b'];

  /** Signed by the simulator, which signs canonical bytes directly, as another tool would. */
  async function legacy() {
    const sim = new Simulator();
    for (const [i, name] of planted.entries()) await sim.addTarget(name, `content ${i}`);
    await sim.addTarget('ok', 'fine');
    await sim.publishRoot();
    await sim.publish({ hashes: true });
    return sim;
  }

  it('still verifies: every name is found as it is signed', async () => {
    const sim = await legacy();
    const store = new MemoryMetadataStore();
    await store.write('root', sim.rootBytes());
    const updater = new Updater({
      metadataBaseUrl: METADATA_URL,
      targetBaseUrl: TARGETS_URL,
      fetcher: sim,
      store,
      now: () => NOW,
    });
    for (const name of [...planted, 'ok']) {
      const info = await updater.getTargetInfo(name);
      expect([name, info?.target.path, info?.role]).toEqual([name, name, 'targets']);
    }
  });

  it('can be edited and re-signed with the library: old names are not checked again', async () => {
    const sim = await legacy();
    const storage = new MemoryRepositoryStorage();
    for (const [path, bytes] of sim.files) storage.files.set(path, bytes);
    storage.files.set('metadata/root.json', sim.rootBytes());
    const signers = [...new Set([...sim.signers.values()].flat())];
    const repo = await Repository.open(storage, { signers, now: () => NOW });
    await repo.addTargets([target('v2')]);
    await repo.publish();
    const binned = await Repository.open(storage, { signers, now: () => NOW });
    const targetsKey = sim.signers.get('targets')?.[0]?.key;
    await binned.useHashBins({ keys: [targetsKey!], bitLength: 1 });
    await binned.publish();

    const { updater } = await client(storage, { now: NOW });
    for (const name of [...planted, 'ok', 'v2']) {
      const info = await updater.getTargetInfo(name);
      expect([name, info?.target.path]).toEqual([name, name]);
    }
  });
});
