/**
 * Shell completion scripts for bash, zsh and fish, generated from the command definitions
 * themselves (the tree `tufa --help` shows), so they cannot fall behind the CLI. Completion
 * offers command words and flags; arguments (files, GUNs) fall back to the shell's default.
 */
import type { Command } from 'commander';

/** A command as completion sees it: its path of words, its flags, its subcommands. */
interface Node {
  words: string[];
  flags: { long: string | undefined; short: string | undefined; description: string; takesValue: boolean }[];
  children: Node[];
  description: string;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

function tree(c: Command, words: string[]): Node {
  return {
    words,
    description: c.description(),
    flags: c.options
      .filter((o) => !o.hidden)
      .map((o) => ({
        long: o.long,
        short: o.short,
        description: o.description,
        takesValue: o.required || o.optional,
      })),
    children: c.commands.map((sub) => tree(sub, [...words, sub.name()])),
  };
}

function all(n: Node): Node[] {
  return [n, ...n.children.flatMap(all)];
}

/** Only what a shell word may safely hold: command names and flags are [a-z0-9-]. */
function word(s: string): string {
  if (!/^-{0,2}[A-Za-z0-9][A-Za-z0-9-]*$/.test(s)) throw new Error(`internal: not a completion word: ${s}`);
  return s;
}

function candidates(n: Node, globals: Node['flags']): string[] {
  const flags = [...n.flags, ...(n.words.length > 0 ? globals : [])].flatMap((f) =>
    [f.long, f.short].filter((x): x is string => x !== undefined),
  );
  return [...n.children.map((c) => c.words.at(-1) as string), ...flags, '--help'].map(word);
}

/** Every flag that takes a value, in any command. */
function valueFlags(root: Node): string[] {
  const flags = new Set<string>();
  for (const n of all(root)) {
    for (const f of n.flags) {
      if (!f.takesValue) continue;
      if (f.long) flags.add(word(f.long));
      if (f.short) flags.add(word(f.short));
    }
  }
  return [...flags].sort();
}

function bash(root: Node): string {
  const cases = all(root)
    .filter((n) => n.words.length > 0)
    .map((n) => `    '${n.words.join(' ')}') opts='${candidates(n, root.flags).join(' ')}' ;;`);
  return `# tufa completion for bash: eval "$(tufa completion bash)" (e.g. in ~/.bashrc)
_tufa() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i opts
  # The command words typed so far (up to two: a group and its command), options skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${all(root)
  .filter((n) => n.words.length > 0)
  .map((n) => `      '${n.words.join(' ')}') path='${n.words.join(' ')}' ;;`)
  .join('\n')}
    esac
  done
  case "$path" in
${cases.join('\n')}
    *) opts='${candidates(root, root.flags).join(' ')}' ;;
  esac
  # After a flag that takes a value (a file, a URL, a GUN): the shell's own completion.
  case "\${COMP_WORDS[COMP_CWORD-1]}" in
    ${valueFlags(root).join('|')}) COMPREPLY=(); return ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _tufa tufa
`;
}

function zsh(root: Node): string {
  // zsh runs the bash function through its bash-completion layer: one definition to keep right.
  return `# tufa completion for zsh: eval "$(tufa completion zsh)" (e.g. in ~/.zshrc)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(root)}`;
}

function fishQuote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fish(root: Node): string {
  const lines = [
    '# tufa completion for fish: tufa completion fish | source (e.g. in ~/.config/fish/config.fish)',
  ];
  const groups = root.children.filter((c) => c.children.length > 0).map((c) => c.words[0] as string);
  const top = root.children.map((c) => c.words[0] as string);
  const condition = (n: Node): string => {
    if (n.words.length === 0) return `not __fish_seen_subcommand_from ${top.join(' ')}`;
    const [first, second] = n.words as [string, string | undefined];
    const inGroup = `__fish_seen_subcommand_from ${word(first)}`;
    if (second === undefined) {
      // A top-level command whose name a group also uses (sign, root sign): not inside the group.
      const notGroups = groups.filter((g) => g !== first);
      return notGroups.length > 0
        ? `${inGroup}; and not __fish_seen_subcommand_from ${notGroups.join(' ')}`
        : inGroup;
    }
    return `${inGroup}; and __fish_seen_subcommand_from ${word(second)}`;
  };
  for (const n of all(root)) {
    const cond = condition(n);
    const leafOfGroup = n.children.length > 0 && n.words.length === 1;
    for (const c of n.children) {
      const name = word(c.words.at(-1) as string);
      const when = leafOfGroup
        ? `${cond}; and not __fish_seen_subcommand_from ${n.children.map((x) => x.words.at(-1)).join(' ')}`
        : cond;
      lines.push(`complete -c tufa -n ${fishQuote(when)} -f -a ${name} -d ${fishQuote(c.description)}`);
    }
    for (const f of n.flags) {
      const long = f.long ? ` -l ${word(f.long.slice(2))}` : '';
      const short = f.short ? ` -s ${word(f.short.slice(1))}` : '';
      const value = f.takesValue ? ' -r' : '';
      lines.push(
        `complete -c tufa -n ${fishQuote(cond)}${long}${short}${value} -d ${fishQuote(f.description)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script of `shell` for the command tree of `program`. */
export function completionScript(shell: Shell, program: Command): string {
  const root = tree(program, []);
  return shell === 'bash' ? bash(root) : shell === 'zsh' ? zsh(root) : fish(root);
}
