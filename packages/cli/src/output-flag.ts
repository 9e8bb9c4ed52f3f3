/**
 * `-o json` / `--output json` (as cosign and kubectl spell it) mean `--json`; `-o text` and
 * `--output text` mean the default. Rewritten before parsing, because `-o` is also `--out` of a
 * few commands (a file name there, which may well be `json`): on those, only `--output` counts.
 */

/** The commands whose own `-o` means `--out` (checked against their definitions by a test). */
export const COMMANDS_WITH_OWN_O: readonly string[] = [
  'key generate',
  'root sign-request',
  'root sign',
  'root merge',
];

const GROUPS = new Set(['key', 'root', 'notary', 'delegation']);
const FORMATS = new Set(['json', 'text']);

/** `argv` (node, script, args…) with the output-format spellings turned into `--json` or nothing. */
export function normalizeOutputFlag(argv: readonly string[]): string[] {
  const out = argv.slice(0, 2);
  const words: string[] = [];
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const next = args[i + 1];
    let format: string | undefined;
    let consumed = 0;
    if (a === '--output' && next !== undefined && FORMATS.has(next)) [format, consumed] = [next, 1];
    else if (a.startsWith('--output=') && FORMATS.has(a.slice(9))) format = a.slice(9);
    else if (!ownsO(words)) {
      if (a === '-o' && next !== undefined && FORMATS.has(next)) [format, consumed] = [next, 1];
      else if (a.startsWith('-o') && FORMATS.has(a.slice(2))) format = a.slice(2);
    }
    if (format !== undefined) {
      if (format === 'json') out.push('--json');
      i += consumed;
      continue;
    }
    // The command words so far (`key generate`): the first word, and the second after a group.
    if (
      !a.startsWith('-') &&
      (words.length === 0 || (words.length === 1 && GROUPS.has(words[0] as string)))
    ) {
      words.push(a);
    }
    out.push(a);
  }
  return out;
}

function ownsO(words: readonly string[]): boolean {
  return COMMANDS_WITH_OWN_O.includes(words.join(' '));
}
