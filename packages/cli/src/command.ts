/**
 * A command is one definition: its arguments, its flags and its handler, together. The types of
 * the handler's arguments and options are derived from the declared strings themselves
 * (`'-d, --digest <digest>'` gives `digest: string | undefined`, `'<gun>'` a string, `'[tag]'`
 * a string or undefined), exactly as commander names and fills them, so a handler that reads a
 * flag its command does not declare (a renamed or a misspelt one) does not compile. At run time
 * the options object refuses such a read too (an internal error, never a silent `undefined`),
 * and registration checks that commander names each option as the types do.
 *
 * main.ts registers definitions; it knows nothing of a command's flags.
 */
import { type Command, Option } from 'commander';
import type { Context } from './context.js';

// --- Types derived from the declared strings -------------------------------------------------

/** `-d, --digest <digest>` → `digest`; `--root-key-out <dir>` → `root-key-out`. */
type LongFlag<F extends string> = F extends `${string}--${infer Rest}`
  ? Rest extends `${infer Name} ${string}`
    ? Name
    : Rest
  : never;

/** `root-key-out` → `rootKeyOut`, as commander's `attributeName()`. */
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

/** The key of a flag's value in the options object: `'--root-key-out <dir>'` → `'rootKeyOut'`. */
export type AttributeName<F extends string> = CamelCase<LongFlag<F>>;

/** What commander stores for a flag given once: a switch `true`, `<v>` a string, `<v...>` a list. */
export type FlagValue<F extends string> = F extends `${string}...>` | `${string}...]`
  ? string[]
  : F extends `${string}<${string}>`
    ? string
    : F extends `${string}[${string}]`
      ? string | true
      : true;

/** What the handler gets for an argument: `<a>` a string, `[a]` maybe not, `<a...>` a list. */
export type ArgumentValue<N extends string> = N extends `<${string}...>` | `[${string}...]`
  ? string[]
  : N extends `<${string}>`
    ? string
    : N extends `[${string}]`
      ? string | undefined
      : never;

/** Only in types: the value an option gives its handler. */
declare const VALUE: unique symbol;

export interface OptionSpec<F extends string = string, V = unknown> {
  readonly flags: F;
  readonly description: string;
  readonly mandatory: boolean;
  readonly parse: ((value: string, previous: never) => unknown) | undefined;
  readonly defaultValue: unknown;
  readonly choices: readonly string[] | undefined;
  readonly [VALUE]: V;
}

export interface ArgumentSpec<N extends string = string> {
  readonly name: N;
  readonly description: string | undefined;
}

type ValueOf<S> = S extends OptionSpec<string, infer V> ? V : never;

/** The options object of a command declaring `O`. */
export type OptionsOf<O extends readonly OptionSpec[]> = {
  readonly [S in O[number] as AttributeName<S['flags']>]: ValueOf<S>;
};

/** The positional arguments of a command declaring `A`, in order. */
export type ArgumentsOf<A extends readonly ArgumentSpec[]> = {
  -readonly [K in keyof A]: A[K] extends ArgumentSpec<infer N> ? ArgumentValue<N> : never;
};

export interface CommandDefinition<
  A extends readonly ArgumentSpec[] = readonly ArgumentSpec[],
  O extends readonly OptionSpec[] = readonly OptionSpec[],
> {
  readonly name: string;
  readonly description: string;
  readonly arguments: A;
  readonly options: O;
  /** Runs the command; resolves to its exit code (undefined: 0). */
  handler(ctx: Context, args: ArgumentsOf<A>, options: OptionsOf<O>): Promise<number | undefined>;
}

/**
 * A command as main.ts handles it: what it declares, and a handler it only passes on what
 * commander parsed for those declarations. Every CommandDefinition is one.
 */
export interface RegisteredCommand {
  readonly name: string;
  readonly description: string;
  readonly arguments: readonly ArgumentSpec[];
  readonly options: readonly OptionSpec[];
  handler(ctx: Context, args: never, options: never): Promise<number | undefined>;
}

// --- Declaring ---------------------------------------------------------------------------------

function spec<F extends string, V>(
  flags: F,
  description: string,
  settings: {
    mandatory?: boolean;
    parse?: (value: string, previous: never) => unknown;
    default?: unknown;
    choices?: readonly string[];
  },
): OptionSpec<F, V> {
  return {
    flags,
    description,
    mandatory: settings.mandatory === true,
    parse: settings.parse,
    defaultValue: settings.default,
    choices: settings.choices,
  } as OptionSpec<F, V>;
}

/** An optional flag: a switch, a value, a value with a default, or a value `parse` converts. */
export function option<const F extends string>(
  flags: F,
  description: string,
): OptionSpec<F, FlagValue<F> | undefined>;
export function option<const F extends string>(
  flags: F,
  description: string,
  settings: { default: FlagValue<F>; choices?: readonly string[] },
): OptionSpec<F, FlagValue<F>>;
export function option<const F extends string, T>(
  flags: F,
  description: string,
  settings: { parse: (value: string, previous: T) => T; default: T },
): OptionSpec<F, T>;
export function option<const F extends string, T>(
  flags: F,
  description: string,
  settings: { parse: (value: string, previous: T | undefined) => T },
): OptionSpec<F, T | undefined>;
export function option(
  flags: string,
  description: string,
  settings: {
    parse?: (value: string, previous: never) => unknown;
    default?: unknown;
    choices?: readonly string[];
  } = {},
): OptionSpec {
  return spec(flags, description, settings);
}

/** A flag that must be given (commander reports it missing). */
export function requiredOption<const F extends string>(
  flags: F,
  description: string,
): OptionSpec<F, FlagValue<F>>;
export function requiredOption<const F extends string, T>(
  flags: F,
  description: string,
  settings: { parse: (value: string, previous: T | undefined) => T },
): OptionSpec<F, T>;
export function requiredOption(
  flags: string,
  description: string,
  settings: { parse?: (value: string, previous: never) => unknown } = {},
): OptionSpec {
  return spec(flags, description, { ...settings, mandatory: true });
}

export function argument<const N extends string>(name: N, description?: string): ArgumentSpec<N> {
  return { name, description };
}

/** A command: the handler's arguments and options are typed from what is declared. */
export function defineCommand<const A extends readonly ArgumentSpec[], const O extends readonly OptionSpec[]>(
  definition: CommandDefinition<A, O>,
): CommandDefinition<A, O> {
  return definition;
}

// --- Registering -------------------------------------------------------------------------------

/** `--root-key-out` → `rootKeyOut`: the run-time twin of AttributeName. */
export function attributeNameOf(flags: string): string | undefined {
  const long = /(?:^|[\s,|])--([^\s,|<[]+)/.exec(flags)?.[1];
  return long?.split('-').reduce((s, w) => s + w.charAt(0).toUpperCase() + w.slice(1));
}

function commanderOption(o: OptionSpec, command: string): Option {
  const opt = new Option(o.flags, o.description);
  // The types name the value after the long flag, camel-cased; commander must agree (it would
  // not for a `--no-…` flag, or one without a long name).
  const expected = attributeNameOf(o.flags);
  if (expected === undefined || opt.negate || opt.attributeName() !== expected) {
    throw new Error(
      `internal: ${command} declares ${JSON.stringify(o.flags)}, which is not a plain --long flag (commander names it ${opt.attributeName()})`,
    );
  }
  if (o.parse) opt.argParser(o.parse as (value: string, previous: unknown) => unknown);
  if (o.choices) opt.choices(o.choices);
  if (o.defaultValue !== undefined) opt.default(o.defaultValue);
  if (o.mandatory) opt.makeOptionMandatory();
  return opt;
}

/** Reads of the options object that are protocol probes (await, JSON), not option reads. */
const PROBES = new Set(['then', 'toJSON']);

/**
 * The options commander parsed, as the handler gets them: a reading of a name that no flag
 * declares throws, so a flag renamed in one place and not the other fails loudly wherever the
 * types could not see it (a cast, a helper typed loosely).
 */
export function declaredOptions<T extends object>(
  values: Record<string, unknown>,
  declared: ReadonlySet<string>,
  command: string,
): T {
  const own: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(values)) {
    if (!declared.has(k)) throw new Error(`internal: ${command} got an option it does not declare (${k})`);
    own[k] = v;
  }
  return new Proxy(own, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !declared.has(key) && !PROBES.has(key)) {
        throw new Error(`internal: ${command} reads the option ${key}, which it does not declare`);
      }
      return Reflect.get(target, key, receiver);
    },
    set() {
      throw new Error(`internal: ${command} changes its options`);
    },
  }) as T;
}

/** How main.ts runs a handler: it supplies the context and waits for the exit code. */
export type Run = (call: (ctx: Context) => Promise<number | undefined>) => void;

/** Adds `definition` to `parent` as a sub-command whose action runs the handler through `run`. */
export function register(parent: Command, definition: RegisteredCommand, run: Run): Command {
  const command = parent.command(definition.name);
  const path = `${parent.name()} ${definition.name}`;
  for (const a of definition.arguments) command.argument(a.name, a.description);
  const declared = new Set<string>();
  for (const o of definition.options) {
    const opt = commanderOption(o, path);
    if (declared.has(opt.attributeName()))
      throw new Error(`internal: ${path} declares --${opt.name()} twice`);
    declared.add(opt.attributeName());
    command.addOption(opt);
  }
  command.description(definition.description);
  command.action((...params: unknown[]) => {
    // commander passes the arguments in order, then the options, then the command.
    const args = params.slice(0, definition.arguments.length);
    const options = declaredOptions(command.opts(), declared, path);
    run((ctx) => definition.handler(ctx, args as never, options as never));
  });
  return command;
}
