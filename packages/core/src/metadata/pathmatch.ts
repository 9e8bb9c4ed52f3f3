/**
 * Delegation `paths` matching (spec 4.5, DESIGN rule 8): a pattern and a target path are split on
 * `/`, must have the same number of segments, and each segment matches shell-style like Python's
 * `fnmatch.fnmatchcase`: `*` any run (never crossing `/`), `?` one character, `[seq]`, `[!seq]`.
 * No braces, no leading-`!` negation, no special case for dotfiles, case-sensitive.
 *
 * Patterns come from metadata any delegated role may write, so matching must not backtrack
 * exponentially (a regular expression of many `*` does): this matcher remembers only the last
 * `*`, which is O(pattern × path) at worst.
 */

type Token =
  | { k: 'star' }
  | { k: 'one' }
  | { k: 'lit'; cp: number }
  | { k: 'set'; negate: boolean; ranges: [number, number][] };

const cache = new Map<string, Token[][]>();

/** One segment pattern to tokens, reading `[...]` the way fnmatch translates it. */
function tokenize(pat: string): Token[] {
  const chars = [...pat]; // by code point, so `?` matches one character, not one UTF-16 unit
  const out: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') {
      if (out.at(-1)?.k !== 'star') out.push({ k: 'star' });
    } else if (c === '?') {
      out.push({ k: 'one' });
    } else if (c === '[') {
      // Find the closing bracket; a `]` right after `[` or `[!` is a literal member.
      let j = i + 1;
      if (chars[j] === '!') j++;
      if (chars[j] === ']') j++;
      while (j < chars.length && chars[j] !== ']') j++;
      if (j >= chars.length) {
        out.push({ k: 'lit', cp: 0x5b }); // an unclosed `[` is literal
        continue;
      }
      let body = chars.slice(i + 1, j);
      const negate = body[0] === '!';
      if (negate) body = body.slice(1);
      const ranges: [number, number][] = [];
      for (let k = 0; k < body.length; k++) {
        const lo = (body[k] as string).codePointAt(0) as number;
        if (body[k + 1] === '-' && k + 2 < body.length) {
          const hi = (body[k + 2] as string).codePointAt(0) as number;
          k += 2;
          if (lo <= hi) ranges.push([lo, hi]); // Python drops a reversed range like z-a
        } else {
          ranges.push([lo, lo]);
        }
      }
      out.push({ k: 'set', negate, ranges });
      i = j;
    } else {
      out.push({ k: 'lit', cp: c.codePointAt(0) as number });
    }
  }
  return out;
}

function matchesOne(t: Token, cp: number): boolean {
  switch (t.k) {
    case 'one':
      return true;
    case 'lit':
      return t.cp === cp;
    case 'set': {
      const inside = t.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
      return t.negate ? !inside : inside;
    }
    default:
      return false;
  }
}

/** Glob matching with backtracking to the last `*` only. */
function matchSegment(tokens: Token[], text: string): boolean {
  const s = [...text].map((ch) => ch.codePointAt(0) as number);
  let ti = 0;
  let si = 0;
  let starTi = -1;
  let starSi = 0;
  while (si < s.length) {
    const t = tokens[ti];
    if (t !== undefined && t.k === 'star') {
      starTi = ti++;
      starSi = si;
    } else if (t !== undefined && matchesOne(t, s[si] as number)) {
      ti++;
      si++;
    } else if (starTi >= 0) {
      ti = starTi + 1;
      si = ++starSi;
    } else {
      return false;
    }
  }
  while (tokens[ti]?.k === 'star') ti++;
  return ti === tokens.length;
}

function compile(pattern: string): Token[][] {
  let segs = cache.get(pattern);
  if (!segs) {
    segs = pattern.split('/').map(tokenize);
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
    if (!matchSegment(segs[i] as Token[], parts[i] as string)) return false;
  }
  return true;
}
