/** One character as a visible escape: `\x1b` up to U+00FF, `\u202e` in the BMP, `\u{e0001}` above. */
export function escapeCodePoint(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\u{${cp.toString(16)}}`;
}
