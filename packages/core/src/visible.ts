/**
 * Third-party text made safe to show to a person (DESIGN rule 13). Tag and role names, `custom`
 * values, keyids, request descriptions and server messages come from whoever wrote the metadata,
 * the request or the response: printed raw, an escape sequence can repaint the screen (and hide
 * what is about to be signed), a bidirectional override can reorder what is read, and an
 * invisible or line-breaking character can make two different names look alike or forge an
 * output line. Kept free of other imports so that the CLI loads it at start-up cheaply.
 */

/**
 * Code points shown as escapes: C0 and C1 controls and DEL (Cc), format characters (Cf: the
 * bidirectional embeddings, overrides and isolates U+202A–202E and U+2066–2069, zero-width
 * U+200B–200F, U+FEFF, …), every other default-ignorable (invisible) code point, lone
 * surrogates, and the line and paragraph separators U+2028/U+2029.
 */
import { escapeCodePoint } from './escape-code-point.js';

const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/** Options of `visible`. */
export interface VisibleOptions {
  /**
   * Keep line feeds and tabs. Only for text whose layout the caller wrote itself (a command's
   * whole output); every value interpolated into a line is escaped without this, so a value can
   * never start a line of its own.
   */
  keepLayout?: boolean;
}

/**
 * `text` with every unsafe code point written as `\xNN`, `\uNNNN` or `\u{NNNNN}` (lower-case
 * hex), e.g. ESC as `\x1b` and RIGHT-TO-LEFT OVERRIDE as `\u202e`. Printable text, including
 * non-ASCII letters, is unchanged. A backslash is not escaped, so `visible` is idempotent (a
 * layer that escapes again changes nothing); the price is that a name holding the six characters
 * `\x1b` reads like one holding ESC: JSON output (`--json`) is exact for telling them apart.
 */
export function visible(text: string, options: VisibleOptions = {}): string {
  return text.replace(UNSAFE, (ch) =>
    options.keepLayout && (ch === '\n' || ch === '\t') ? ch : escapeCodePoint(ch),
  );
}

/**
 * Characters JSON may carry raw inside strings but a terminal would act on: DEL, the C1 controls,
 * and the invisible and bidirectional ones above. `JSON.stringify` already escapes C0 controls
 * and lone surrogates.
 */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/**
 * `JSON.stringify(value, null, indent)` with the characters above written as `\uNNNN` escapes
 * (a surrogate pair above U+FFFF). The result parses to exactly the same value — JSON output
 * stays exact — and can be printed on a terminal safely. Such characters only occur inside
 * strings, where a `\u` escape means the same character.
 */
export function safeJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(JSON_UNSAFE, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
