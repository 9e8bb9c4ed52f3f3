/**
 * The JSON files tufa writes, byte for byte as python-tuf's JSONSerializer writes them
 * (`json.dumps(sort_keys=True, ensure_ascii=True)`, indent 1 or compact), so a repository
 * re-serialised by tufa does not change under python-tuf and vice versa. Signatures never
 * depend on this form: they cover the canonical bytes of `signed`.
 */
import { FormatError } from '../errors.js';
import { compareCodePoints } from '../json/canonical.js';

const SHORT_ESCAPES: Record<number, string> = {
  34: '\\"',
  92: '\\\\',
  10: '\\n',
  13: '\\r',
  9: '\\t',
  8: '\\b',
  12: '\\f',
};

/** Python's `ensure_ascii` string form: printable ASCII as is, everything else `\uXXXX` per UTF-16 unit. */
function quote(s: string): string {
  if (/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

function write(v: unknown, indent: number | undefined, level: number, parts: string[]): void {
  if (v === null) {
    parts.push('null');
    return;
  }
  switch (typeof v) {
    case 'string':
      parts.push(quote(v));
      return;
    case 'boolean':
      parts.push(v ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isSafeInteger(v)) throw new FormatError(`cannot serialise the number ${v}`);
      parts.push(String(v));
      return;
    case 'object':
      break;
    default:
      throw new FormatError(`cannot serialise a ${typeof v}`);
  }
  const nl = indent === undefined ? '' : `\n${' '.repeat(indent * (level + 1))}`;
  const close = indent === undefined ? '' : `\n${' '.repeat(indent * level)}`;
  const sep = indent === undefined ? ',' : ',';
  const colon = indent === undefined ? ':' : ': ';
  if (Array.isArray(v)) {
    if (v.length === 0) {
      parts.push('[]');
      return;
    }
    parts.push('[');
    v.forEach((item, i) => {
      if (i > 0) parts.push(sep);
      parts.push(nl);
      write(item, indent, level + 1, parts);
    });
    parts.push(close, ']');
    return;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort(compareCodePoints);
  if (keys.length === 0) {
    parts.push('{}');
    return;
  }
  parts.push('{');
  keys.forEach((k, i) => {
    if (i > 0) parts.push(sep);
    parts.push(nl, quote(k), colon);
    write(o[k], indent, level + 1, parts);
  });
  parts.push(close, '}');
}

/** python-tuf's file form: `indent` 1 for its default, `'compact'` for its compact form. */
export function pythonJson(value: unknown, indent: number | 'compact' = 1): string {
  const parts: string[] = [];
  write(value, indent === 'compact' ? undefined : indent, 0, parts);
  return parts.join('');
}
