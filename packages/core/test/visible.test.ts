/** `visible()` and `safeJson()`: third-party text made safe for a terminal (DESIGN rule 13). */
import { describe, expect, it } from 'vitest';
import { safeJson, visible } from '../src/visible.js';

describe('visible', () => {
  const cases: [string, string, string][] = [
    ['printable ASCII is unchanged', 'v1.2.3_rc-1 a/b:c', 'v1.2.3_rc-1 a/b:c'],
    ['non-ASCII letters and emoji are unchanged', 'café ünïcode 日本 😀', 'café ünïcode 日本 😀'],
    ['NUL', 'a\0b', 'a\\x00b'],
    ['ESC and a CSI sequence', '\x1b[2Jclean', '\\x1b[2Jclean'],
    ['BEL, BS, CR', 'a\x07b\bc\rd', 'a\\x07b\\x08c\\x0dd'],
    ['line feed and tab', 'a\nb\tc', 'a\\x0ab\\x09c'],
    ['DEL', 'a\x7fb', 'a\\x7fb'],
    ['C1 controls: 8-bit CSI and NEL', 'a\u009b2Jb\u0085c', 'a\\x9b2Jb\\x85c'],
    ['RIGHT-TO-LEFT OVERRIDE', 'gpj.\u202eexe', 'gpj.\\u202eexe'],
    [
      'bidi embeddings and overrides U+202A–202E',
      '\u202a\u202b\u202c\u202d\u202e',
      '\\u202a\\u202b\\u202c\\u202d\\u202e',
    ],
    ['bidi isolates U+2066–2069', '\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
    ['LRM, RLM, ALM', '\u200e\u200f\u061c', '\\u200e\\u200f\\u061c'],
    ['zero-width space, non-joiner, joiner', 'a\u200bb\u200cc\u200dd', 'a\\u200bb\\u200cc\\u200dd'],
    ['byte order mark', '\ufeffname', '\\ufeffname'],
    ['soft hyphen', 'ab\u00adc', 'ab\\xadc'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['word joiner and invisible operators', '\u2060\u2062', '\\u2060\\u2062'],
    ['Hangul filler (default-ignorable)', 'a\u3164b', 'a\\u3164b'],
    ['a format character above U+FFFF (language tag)', 'a\u{e0001}b', 'a\\u{e0001}b'],
    ['a lone surrogate', 'a\ud800b', 'a\\ud800b'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(visible(input)).toBe(expected);
  });

  it('the result holds only printable characters', () => {
    const all = Array.from({ length: 0x3000 }, (_, i) => String.fromCharCode(i)).join('');
    const out = visible(all);
    expect(out).not.toMatch(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u);
  });

  it('is idempotent: escaping again changes nothing', () => {
    const s = '\x1b[31mred\u202e\n\t\\x1b';
    expect(visible(visible(s))).toBe(visible(s));
  });

  it('keepLayout keeps line feeds and tabs and escapes the rest', () => {
    expect(visible('tag\t\x1b[2J\nnext\u202e\r', { keepLayout: true })).toBe(
      'tag\t\\x1b[2J\nnext\\u202e\\x0d',
    );
  });
});

describe('safeJson', () => {
  const hostile = {
    tag: 'v1\x1b[2J\u202e\u2028\u2029\u0085\x7f\u200b\ufeff\u{e0001}',
    'k\u202e': ['\u2066x\u2069'],
  };

  it('parses back to exactly the same value', () => {
    expect(JSON.parse(safeJson(hostile))).toEqual(hostile);
  });

  it('writes every unsafe character as a \\u escape', () => {
    const text = safeJson(hostile);
    // Raw, only the line feeds of the indentation remain.
    expect(text.replaceAll('\n', '')).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
    expect(text).not.toContain('\x1b');
    expect(text).toContain('\\u001b[2J\\u202e\\u2028\\u2029\\u0085\\u007f\\u200b\\ufeff\\udb40\\udc01');
    expect(text).toContain('"k\\u202e"');
  });

  it('leaves ordinary output as JSON.stringify writes it', () => {
    const v = { a: 'café 日本', b: [1, true, null], c: 'back\\slash "q"' };
    expect(safeJson(v)).toBe(JSON.stringify(v, null, 2));
  });
});
