/**
 * Where each TUF metadata file lives in an OCI repository: one tag per file, under the prefix
 * `_tufa.` (docs/tuf-in-oci.md, "Tags"). The encoding is injective and stays inside the tag
 * grammar `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`:
 *
 *   N.ROLE.json      →  _tufa.N.ENC(ROLE)      (N: decimal, no leading zero, at most 16 digits)
 *   timestamp.json   →  _tufa.timestamp        (the single mutable entry point)
 *   the publish lease →  _tufa.lease
 *
 * ENC keeps `a-z`, `0-9` and `-` and writes every other UTF-8 byte as `_` and two lower-case hex
 * digits (capitals too, so `Targets` and `targets` stay two tags on registries whose storage is
 * case-insensitive). ENC never produces `.`, so the first `.` after the prefix ends the version:
 * a versioned tag and an unversioned one can never be equal. Decoding refuses every string ENC
 * does not produce (an escaped byte that needed none, upper-case hex, invalid UTF-8), so each
 * tag has at most one meaning.
 */
import { safeJson, UnsafeNameError, UsageError } from '@tufa/core';

/** The tag prefix of TUF metadata: `_` starts almost no image tag, `tufa` names the layout. */
export const TUF_TAG_PREFIX = '_tufa.';
/** The tag of the single mutable metadata file. */
export const TIMESTAMP_TAG = `${TUF_TAG_PREFIX}timestamp`;
/** The tag of the publishers' lease (docs/tuf-in-oci.md, "Publishing"). */
export const LEASE_TAG = `${TUF_TAG_PREFIX}lease`;
/** Longest tag the distribution specification allows. */
export const MAX_TAG_LENGTH = 128;
/** Most decimal digits of a version: 2^53 − 1 has 16. */
const MAX_VERSION_DIGITS = 16;
/**
 * Longest encoded role name: what is left of 128 after the prefix, 16 digits and a dot. Fixed,
 * so a role that fits at version 1 still fits at every later version.
 */
export const MAX_ENCODED_ROLE_LENGTH = MAX_TAG_LENGTH - TUF_TAG_PREFIX.length - MAX_VERSION_DIGITS - 1;

/** A metadata file of a consistent-snapshot repository: `N.ROLE.json`, or `timestamp.json`. */
export type MetadataFile = { role: string; version: number } | { role: 'timestamp'; version: undefined };

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const KEPT = /^[a-z0-9-]$/;

/** ENC(role): see the top of this module. */
export function encodeRoleName(role: string): string {
  if (role.length === 0) throw new UnsafeNameError('an empty role name has no tag');
  let out = '';
  for (const b of encoder.encode(role)) {
    const c = String.fromCharCode(b);
    out += KEPT.test(c) ? c : `_${b.toString(16).padStart(2, '0')}`;
  }
  if (out.length > MAX_ENCODED_ROLE_LENGTH) {
    throw new UnsafeNameError(
      `role name ${safeJson(role, 0)} does not fit an OCI tag (expected at most ${MAX_ENCODED_ROLE_LENGTH} characters once encoded, found ${out.length}): choose a shorter name`,
    );
  }
  return out;
}

/** The role name ENC produced `encoded` from, or undefined when ENC never produces it. */
export function decodeRoleName(encoded: string): string | undefined {
  if (encoded.length === 0 || encoded.length > MAX_ENCODED_ROLE_LENGTH) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded[i] as string;
    if (KEPT.test(c)) {
      bytes.push(c.charCodeAt(0));
      continue;
    }
    if (c !== '_') return undefined;
    const hex = encoded.slice(i + 1, i + 3);
    if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
    const b = Number.parseInt(hex, 16);
    if (KEPT.test(String.fromCharCode(b))) return undefined; // not canonical
    bytes.push(b);
    i += 2;
  }
  try {
    return strictDecoder.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new UsageError(`expected a metadata version from 1 to 2^53 - 1, found ${version}`);
  }
}

/** The tag of a metadata file. */
export function metadataTag(file: MetadataFile): string {
  if (file.version === undefined) {
    if (file.role !== 'timestamp') throw new UsageError('only timestamp.json is stored without a version');
    return TIMESTAMP_TAG;
  }
  checkVersion(file.version);
  return `${TUF_TAG_PREFIX}${file.version}.${encodeRoleName(file.role)}`;
}

/**
 * The metadata file a tag names, or undefined for a tag outside the layout (an image tag, the
 * lease, anything under the prefix that this encoding does not produce).
 */
export function parseMetadataTag(tag: string): MetadataFile | undefined {
  if (!tag.startsWith(TUF_TAG_PREFIX)) return undefined;
  if (tag === TIMESTAMP_TAG) return { role: 'timestamp', version: undefined };
  const rest = tag.slice(TUF_TAG_PREFIX.length);
  const m = /^([1-9][0-9]{0,15})\.(.*)$/.exec(rest);
  if (m === null) return undefined;
  const version = Number(m[1]);
  const role = decodeRoleName(m[2] as string);
  if (!Number.isSafeInteger(version) || role === undefined) return undefined;
  return { role, version };
}

/**
 * The metadata file a repository file name names: `N.ROLE.json` or `timestamp.json`, with ROLE
 * as `decode` gives it (raw in storage paths, percent-decoded in a client's URL). Anything
 * else — in particular `snapshot.json` or `targets.json` without a version — is refused: this
 * layout stores consistent-snapshot repositories only, whose versioned files never change.
 */
export function parseMetadataFileName(name: string, decode: (segment: string) => string): MetadataFile {
  if (name === 'timestamp.json') return { role: 'timestamp', version: undefined };
  const m = /^([1-9][0-9]{0,15})\.(.+)\.json$/.exec(name);
  const version = m === null ? Number.NaN : Number(m[1]);
  if (m === null || !Number.isSafeInteger(version)) {
    throw new UsageError(
      `expected a metadata file named VERSION.ROLE.json or timestamp.json, found ${safeJson(name, 0)} (an OCI registry stores consistent-snapshot repositories only)`,
    );
  }
  return { role: decode(m[2] as string), version };
}

/** Whether `tag` is reserved for TUF metadata (image tags must not use the prefix). */
export function isReservedTag(tag: string): boolean {
  return tag.startsWith(TUF_TAG_PREFIX);
}
