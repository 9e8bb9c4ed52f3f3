/**
 * Delegation `paths` matching (spec 4.5, DESIGN rule 8): a pattern and a target path are split on
 * `/`, must have the same number of segments, and each segment matches shell-style like Python's
 * `fnmatch.fnmatchcase`: `*` any run (never crossing `/`), `?` one character, `[seq]`, `[!seq]`.
 * No braces, no leading-`!` negation, no special case for dotfiles, case-sensitive.
 */

const cache = new Map<string, RegExp[]>();

/** Escapes a literal for use outside a character class (in `u` mode, `\\-` is an error there). */
function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Escapes a literal for use inside a character class. */
function escapeClass(s: string): string {
  return s.replace(/[\\^[\]-]/g, '\\$&');
}

/** One segment pattern to an anchored regular expression, the way fnmatch translates it. */
function translateSegment(pat: string): RegExp {
  let re = '';
  const chars = [...pat]; // by code point, so `?` matches one character, not one UTF-16 unit
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') {
      re += '[^]*';
    } else if (c === '?') {
      re += '[^]';
    } else if (c === '[') {
      // Find the closing bracket; a `]` right after `[` or `[!` is a literal member.
      let j = i + 1;
      if (chars[j] === '!') j++;
      if (chars[j] === ']') j++;
      while (j < chars.length && chars[j] !== ']') j++;
      if (j >= chars.length) {
        re += '\\[';
        continue;
      }
      let body = chars.slice(i + 1, j);
      let negate = false;
      if (body[0] === '!') {
        negate = true;
        body = body.slice(1);
      }
      let cls = '';
      for (let k = 0; k < body.length; k++) {
        const b = body[k] as string;
        if (body[k + 1] === '-' && k + 2 < body.length) {
          const lo = b;
          const hi = body[k + 2] as string;
          k += 2;
          // Python drops a reversed range like z-a; it then matches nothing.
          if ((lo.codePointAt(0) as number) <= (hi.codePointAt(0) as number)) {
            cls += `${escapeClass(lo)}-${escapeClass(hi)}`;
          }
        } else {
          cls += escapeClass(b);
        }
      }
      if (cls === '') re += negate ? '[^]' : '(?!)';
      else re += negate ? `[^${cls}]` : `[${cls}]`;
      i = j;
    } else {
      re += escapeRegex(c);
    }
  }
  return new RegExp(`^${re}$`, 'u');
}

function compile(pattern: string): RegExp[] {
  let segs = cache.get(pattern);
  if (!segs) {
    segs = pattern.split('/').map(translateSegment);
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, segs);
  }
  return segs;
}

/** Whether `targetPath` matches `pattern` segment by segment. */
export function matchPathPattern(targetPath: string, pattern: string): boolean {
  const segs = compile(pattern);
  const parts = targetPath.split('/');
  if (parts.length !== segs.length) return false;
  for (let i = 0; i < parts.length; i++) {
    if (!(segs[i] as RegExp).test(parts[i] as string)) return false;
  }
  return true;
}
