/**
 * The tag-name policy for signing (DESIGN rules 9 and 13). A tag becomes a TUF target name:
 * clients turn it into file names and URLs, and people read it on terminals. Signing refuses a
 * name that could climb out of a directory or show something other than what it is; names
 * already in signed metadata are still looked up and verified as they are (this is a policy on
 * what we sign, not on what we read).
 *
 * Refused (TagNameError, code USAGE): the empty name; more than 255 bytes of UTF-8; a leading
 * `/`; a backslash; a `.` or `..` segment between slashes; any control character (C0
 * U+0000–U+001F, DEL, C1 U+0080–U+009F); any Unicode format character (category Cf: the bidi
 * overrides and isolates U+202A–U+202E and U+2066–U+2069, zero-width U+200B–U+200F, U+FEFF, …);
 * the line and paragraph separators U+2028 and U+2029; a lone surrogate.
 *
 * Warned about (returned, not thrown): a name outside the OCI tag grammar, which registries
 * refuse as an image tag (tufa can still sign it, e.g. for an artifact path).
 */
import { TagNameError, type TagNameRule } from '../errors.js';

/** Longest tag signing accepts, in bytes of UTF-8 (a common file-name limit). */
export const MAX_TAG_BYTES = 255;

/** The OCI distribution spec's tag grammar. */
export const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * A tag name that signing accepts but some tools will not: outside the OCI distribution spec's tag
 * grammar.
 */
export interface TagNameWarning {
  /** The advisory rule the name breaks. */
  rule: 'oci-grammar';
  /** What is wrong, with the name shown escaped. */
  message: string;
}

/** Options of `checkTagName`. */
export interface CheckTagNameOptions {
  /** Where the name came from, put in front of messages (e.g. `tags.txt:3`). */
  source?: string;
}

import { escapeCodePoint } from '../escape-code-point.js';

const encoder = new TextEncoder();
const CONTROL = /\p{Cc}/u;
const FORMAT = /\p{Cf}/u;
const LINE_SEPARATOR = /[\p{Zl}\p{Zp}]/u;
/** What a person cannot see as itself: escaped when a name is shown. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]|(?! )\p{Zs}/u;
/** Anything `showTagName` escapes; without it a name is shown as it is. */
const NEEDS_ESCAPE = /["\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]|(?! )\p{Zs}/u;
/** A `.` or `..` segment somewhere (where is found only then). */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;
/** Any character a refusal rule is about; without one, only the length and segments matter. */
const REFUSED_CHARACTER = /[\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

const SHOW_MAX = 80;

/**
 * A name in double quotes as a person may safely see it: `"` and `\` escaped, every control,
 * format, separator, private-use, unassigned or lone-surrogate character escaped, and names
 * longer than 80 characters cut with `…`.
 */
export function showTagName(name: string): string {
  if (name.length <= SHOW_MAX && !NEEDS_ESCAPE.test(name)) return `"${name}"`;
  let out = '"';
  let n = 0;
  for (const ch of name) {
    if (n++ === SHOW_MAX) {
      out += '…';
      break;
    }
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (INVISIBLE.test(ch)) out += escapeCodePoint(ch);
    else out += ch;
  }
  return `${out}"`;
}

/**
 * Checks a tag before it is signed: throws TagNameError for a refused name (see the module
 * comment), returns warnings for a name that is accepted but not an OCI tag.
 * @throws {@link errors!TagNameError | TagNameError} the name breaks a rule of the policy (`rule`
 *   says which).
 */
export function checkTagName(name: string, options: CheckTagNameOptions = {}): TagNameWarning[] {
  if (OCI_TAG.test(name)) return []; // the common case; nothing in the grammar can be refused
  const where = options.source ? `${options.source}: ` : '';
  const refuse = (rule: TagNameRule, why: string, position?: number): never => {
    throw new TagNameError(rule, `${where}tag ${showTagName(name)} ${why}`, position);
  };
  if (name.length === 0) refuse('empty', 'is empty (expected 1 to 255 bytes)');
  const bytes = name.length * 3 <= MAX_TAG_BYTES ? 0 : encoder.encode(name).length;
  if (bytes > MAX_TAG_BYTES) {
    refuse('too-long', `is too long (expected at most ${MAX_TAG_BYTES} bytes of UTF-8, found ${bytes})`);
  }
  if (name.startsWith('/')) refuse('leading-slash', 'starts with "/" (expected a relative name)', 1);
  let position = 0;
  for (const ch of REFUSED_CHARACTER.test(name) ? name : '') {
    position++;
    const at = `at position ${position}`;
    const cp = ch.codePointAt(0) as number;
    if (ch === '\\')
      refuse('backslash', `has a backslash ${at} (expected "/" as the only separator)`, position);
    if (cp >= 0xd800 && cp <= 0xdfff) {
      refuse(
        'lone-surrogate',
        `has a lone surrogate ${escapeCodePoint(ch)} ${at} (expected Unicode text)`,
        position,
      );
    }
    if (CONTROL.test(ch)) {
      refuse('control-character', `has the control character ${escapeCodePoint(ch)} ${at}`, position);
    }
    if (FORMAT.test(ch)) {
      refuse(
        'format-character',
        `has the invisible Unicode format character ${escapeCodePoint(ch)} ${at} (bidi controls and zero-width characters make a name look like another)`,
        position,
      );
    }
    if (LINE_SEPARATOR.test(ch)) {
      refuse('line-separator', `has the line separator ${escapeCodePoint(ch)} ${at}`, position);
    }
  }
  position = 1;
  for (const segment of DOT_SEGMENT.test(name) ? name.split('/') : []) {
    if (segment === '.' || segment === '..') {
      refuse(
        'dot-segment',
        `has a "${segment}" segment at position ${position} (it names another path)`,
        position,
      );
    }
    position += [...segment].length + 1;
  }
  return [
    {
      rule: 'oci-grammar',
      message: `${where}tag ${showTagName(name)} is not an OCI image tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}): registries and docker will not accept it as one`,
    },
  ];
}
