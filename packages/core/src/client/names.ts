/**
 * Role and target names become file names and URLs (DESIGN rule 9). These encodings are
 * injective and cannot escape a directory: `..`, `/`, `\`, `%2e%2e`, absolute paths, NUL and
 * Windows device names all come out as one harmless path segment.
 */
import { UnsafeNameError } from '../errors.js';

const encoder = new TextEncoder();
/** DOS device names; superscript 1–3 as escapes, so the CLI bundle stays ASCII (scripts/bundle-cli.mjs). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])$/i;
/** Keep file names well under the 255-byte limit of common file systems. */
const MAX_ENCODED = 200;

function percentEncode(name: string, keep: RegExp): string {
  let out = '';
  for (const ch of name) {
    if (keep.test(ch)) {
      out += ch;
    } else {
      for (const b of encoder.encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/**
 * A role name as a single URL path segment, percent-encoded with nothing left "safe" but
 * unreserved characters, as python-tuf does (`quote(name, safe="")`): `../x` → `..%2Fx`.
 */
export function roleNameToUrlSegment(role: string): string {
  return percentEncode(role, /^[A-Za-z0-9_.~-]$/);
}

/**
 * A role name as a file name stem in the metadata cache: every byte outside `[a-z0-9_-]`
 * percent-encoded (dots too, so no name is `.` or `..`; capitals too, so `Targets` and
 * `targets` stay two files on case-insensitive file systems), the first character of a Windows
 * device name encoded too. Injective: `%` itself is always encoded.
 */
export function roleNameToFileStem(role: string): string {
  if (role.length === 0) throw new UnsafeNameError('an empty role name cannot be stored');
  let stem = percentEncode(role, /^[a-z0-9_-]$/);
  if (WINDOWS_DEVICE.test(role)) {
    const first = stem.charCodeAt(0);
    stem = `%${first.toString(16).toUpperCase()}${stem.slice(1)}`;
  }
  if (stem.length > MAX_ENCODED) {
    throw new UnsafeNameError(
      `role name is too long to store (${stem.length} bytes encoded, at most ${MAX_ENCODED})`,
    );
  }
  return stem;
}

/**
 * Target paths as URL paths: each `/`-separated segment percent-encoded on its own, `/` kept
 * (servers store targets in directories). Rejects paths that could climb out of the base URL.
 */
export function targetPathToUrlPath(path: string): string {
  const segments = path.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') {
      throw new UnsafeNameError(`target path ${JSON.stringify(path)} has an empty, "." or ".." segment`);
    }
  }
  return segments.map((s) => percentEncode(s, /^[A-Za-z0-9_.~!$&'()*+,;=:@-]$/)).join('/');
}
