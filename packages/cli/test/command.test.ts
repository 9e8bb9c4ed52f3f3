/**
 * Command definitions (src/command.ts): a handler's options are typed from the flags its
 * command declares, so reading one it does not declare fails to compile (checked by
 * `npm run typecheck`, which type-checks this file: each `@ts-expect-error` below must be an
 * error) and fails at run time too; and every tufa command registers under those rules.
 */
import { Command } from 'commander';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  argument,
  attributeNameOf,
  declaredOptions,
  defineCommand,
  type OptionsOf,
  option,
  type RegisteredCommand,
  register,
  requiredOption,
} from '../src/command.js';
import type { Context } from '../src/context.js';
import { buildProgram, entriesFor } from '../src/main.js';
import { collect, positiveInt } from '../src/options.js';

const seen: { args?: unknown; options?: Record<string, unknown> } = {};

const example = defineCommand({
  name: 'example',
  description: 'an example',
  arguments: [argument('<gun>', 'repository'), argument('[tag]'), argument('[more...]')],
  options: [
    option('-d, --digest <digest>', 'a value'),
    option('-s, --size <bytes>', 'a parsed value', { parse: positiveInt }),
    option('--root-threshold <n>', 'a parsed value with a default', { parse: positiveInt, default: 1 }),
    option('--root-key <ref>', 'repeatable', { parse: collect }),
    option('--unsafe-tofu', 'a switch'),
    option('--delegator <role>', 'a value with a default', { default: 'targets' }),
    option('-t, --type <type>', 'a choice', { default: 'ed25519', choices: ['ed25519', 'rsa'] }),
    requiredOption('-p, --publish-root <dir>', 'required'),
    requiredOption('-k, --key <ref>', 'required, repeatable', { parse: collect }),
  ],
  async handler(_ctx, [gun, tag, more], opts) {
    // The exact types, derived from the declared strings.
    expectTypeOf(gun).toEqualTypeOf<string>();
    expectTypeOf(tag).toEqualTypeOf<string | undefined>();
    expectTypeOf(more).toEqualTypeOf<string[]>();
    expectTypeOf(opts.digest).toEqualTypeOf<string | undefined>();
    expectTypeOf(opts.size).toEqualTypeOf<number | undefined>();
    expectTypeOf(opts.rootThreshold).toEqualTypeOf<number>();
    expectTypeOf(opts.rootKey).toEqualTypeOf<string[] | undefined>();
    expectTypeOf(opts.unsafeTofu).toEqualTypeOf<true | undefined>();
    expectTypeOf(opts.delegator).toEqualTypeOf<string>();
    expectTypeOf(opts.type).toEqualTypeOf<string>();
    expectTypeOf(opts.publishRoot).toEqualTypeOf<string>();
    expectTypeOf(opts.key).toEqualTypeOf<string[]>();
    seen.args = [gun, tag, more];
    seen.options = { ...opts };
    return 0;
  },
});

/** Reads a flag it does not declare (what a rename in one place only leaves behind). */
const misspelt = defineCommand({
  name: 'misspelt',
  description: 'reads an undeclared option',
  arguments: [],
  options: [option('-d, --digest <digest>', 'a value')],
  async handler(_ctx, _args, opts) {
    // @ts-expect-error: no flag declares `digst`
    const a = opts.digst;
    // @ts-expect-error: nor `sha` (as if --digest had been renamed --sha in the flags only)
    const b = opts.sha;
    // @ts-expect-error: the declared option is a string, not a number
    const c: number = opts.digest;
    return a === b && b === c ? 1 : 0;
  },
});

type Misspelt = OptionsOf<typeof misspelt.options>;
expectTypeOf<keyof Misspelt>().toEqualTypeOf<'digest'>();

async function parse(definition: RegisteredCommand, args: string[]): Promise<number | undefined> {
  const program = new Command('t').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  let pending: Promise<number | undefined> | undefined;
  register(program, definition, (call) => {
    pending = call({ out: {} as Context['out'], debug: false });
  });
  await program.parseAsync(['node', 't', definition.name, ...args]);
  return pending;
}

describe('defineCommand and register', () => {
  it('hands the handler the arguments and options commander parsed, as declared', async () => {
    await parse(example, [
      'example.com/app',
      '1.0',
      'x',
      'y',
      '-d',
      'sha256:ab',
      '--size',
      '12',
      '--root-key',
      'a',
      '--root-key',
      'b',
      '--unsafe-tofu',
      '-p',
      'pub',
      '-k',
      'k1',
    ]);
    expect(seen.args).toEqual(['example.com/app', '1.0', ['x', 'y']]);
    expect(seen.options).toEqual({
      digest: 'sha256:ab',
      size: 12,
      rootThreshold: 1,
      rootKey: ['a', 'b'],
      unsafeTofu: true,
      delegator: 'targets',
      type: 'ed25519',
      publishRoot: 'pub',
      key: ['k1'],
    });
  });

  it('a handler that reads an option its command does not declare fails, naming it', async () => {
    await expect(parse(misspelt, ['-d', 'x'])).rejects.toThrow(
      'internal: t misspelt reads the option digst, which it does not declare',
    );
  });

  it('options commander filled that no flag declares are refused before the handler runs', () => {
    expect(() => declaredOptions({ digest: 'x', json: true }, new Set(['digest']), 't c')).toThrow(
      'internal: t c got an option it does not declare (json)',
    );
  });

  it('a handler cannot change its options', async () => {
    const writer = defineCommand({
      name: 'writer',
      description: 'writes',
      arguments: [],
      options: [option('--flag', 'a switch')],
      async handler(_ctx, _args, opts) {
        (opts as { flag?: true }).flag = true;
        return 0;
      },
    });
    await expect(parse(writer, [])).rejects.toThrow('internal: t writer changes its options');
  });

  const refused: [string, string, RegExp][] = [
    ['a negatable flag', '--no-color', /not a plain --long flag/],
    ['a flag without a long name', '-x', /not a plain --long flag/],
  ];
  for (const [what, flags, message] of refused) {
    it(`refuses ${what} (${flags}): the types could not name its value`, () => {
      const def = defineCommand({
        name: 'bad',
        description: 'bad',
        arguments: [],
        options: [option(flags, 'x')],
        async handler() {
          return 0;
        },
      });
      expect(() => register(new Command('t'), def, () => {})).toThrow(message);
    });
  }

  it('refuses two flags with one name', () => {
    const def = defineCommand({
      name: 'twice',
      description: 'twice',
      arguments: [],
      options: [option('--root <file>', 'x'), option('-r, --root <file>', 'y')],
      async handler() {
        return 0;
      },
    });
    expect(() => register(new Command('t'), def, () => {})).toThrow(
      'internal: t twice declares --root twice',
    );
  });

  const names: [string, string | undefined][] = [
    ['-d, --digest <digest>', 'digest'],
    ['--root-key-out <dir>', 'rootKeyOut'],
    ['--new-root-key-out <dir>', 'newRootKeyOut'],
    ['--server <url|dir>', 'server'],
    ['--unsafe-tofu', 'unsafeTofu'],
    ['-y, --yes', 'yes'],
    ['-x', undefined],
  ];
  for (const [flags, name] of names) {
    it(`names ${flags} ${String(name)}, as commander does`, () => {
      expect(attributeNameOf(flags)).toBe(name);
      if (name !== undefined) expect(new Command().createOption(flags).attributeName()).toBe(name);
    });
  }
});

describe('the tufa command line', () => {
  it('registers every command under these rules', async () => {
    const program = await buildProgram(() => {});
    const all = program.commands.flatMap((c) =>
      c.commands.length ? c.commands.map((s) => `${c.name()} ${s.name()}`) : [c.name()],
    );
    expect(all).toEqual([
      'key generate',
      'key list',
      'key import',
      'key export',
      'key passwd',
      'key rotate',
      'init',
      'attach',
      'sign',
      'unsign',
      'publish',
      'verify',
      'lookup',
      'list',
      'resolve',
      'inspect',
      'notary verify',
      'notary list',
      'notary migrate',
      'delegation add',
      'delegation remove',
      'delegation list',
      'root sign-request',
      'root sign',
      'root merge',
      'root publish',
      'status',
      'timestamp',
      'agent start',
      'agent add',
      'agent remove',
      'agent list',
      'agent lock',
      'agent unlock',
      'agent stop',
      'unlock',
      'serve',
      'server',
      'completion',
    ]);
  });

  it.each([
    ['verify', ['verify']],
    ['lookup', ['lookup']],
    ['sign', ['sign']],
    ['key', ['key']], // a group: all its subcommands
  ])('tufa %s registers that command alone of its module', async (word, expected) => {
    const program = await buildProgram(() => {}, entriesFor([word, 'x.io/a:1']), 'tufa', word);
    expect(program.commands.map((c) => c.name())).toEqual(expected);
    if (word === 'key') expect(program.commands[0]?.commands.length).toBeGreaterThan(3);
    if (word === 'verify') expect(program.commands[0]?.options.map((o) => o.long)).toContain('--digest');
  });

  it('registers every command of the entries for a word that names none of them (help, a typo)', async () => {
    for (const word of ['help', 'frobnicate']) {
      const program = await buildProgram(() => {}, entriesFor([word]), 'tufa', word);
      expect(program.commands.length).toBeGreaterThan(20);
    }
  });

  const lines: [string[], string[] | 'all' | 'none'][] = [
    [
      ['sign', 'x.io/a:1'],
      ['sign', 'unsign'],
    ],
    [
      ['--json', 'verify', 'x.io/a:1'],
      ['verify', 'lookup', 'list', 'resolve', 'inspect'],
    ],
    [['key', 'rotate', 'x.io/a', 'targets'], ['key']],
    [['--debug', 'root', 'sign', 'r.json'], ['root']],
    [['--version'], 'none'],
    [['--version', '--help'], 'all'],
    [['--help'], 'all'],
    [[], 'all'],
    [['help', 'sign'], 'all'],
    [['frobnicate'], 'all'],
  ];
  for (const [args, expected] of lines) {
    it(`tufa ${args.join(' ')} loads ${Array.isArray(expected) ? expected.join(', ') : expected}`, () => {
      const names = entriesFor(args).map((e) => e.names);
      if (expected === 'none') expect(names).toEqual([]);
      else if (expected === 'all') expect(names.length).toBeGreaterThan(5);
      else expect(names).toEqual([expected]);
    });
  }
});
