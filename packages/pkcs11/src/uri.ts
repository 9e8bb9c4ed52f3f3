/**
 * PKCS#11 URIs (RFC 7512): `pkcs11:token=YubiKey%20PIV;id=%01?module-path=/usr/lib/libykcs11.so`.
 *
 * Path attributes (`;`-separated) select a slot, a token and an object; query attributes
 * (`&`-separated) say which module to load and where the PIN comes from. Values are
 * percent-decoded; `id` is raw bytes, every other value UTF-8 text. Attributes this package
 * does not know are refused rather than ignored: an ignored attribute that was meant to narrow
 * the match would select a different key. Every error names the URI through `redactUri`.
 */
import { UsageError } from '@tufa/core';
import { redactUri } from '@tufa/core/node';

export type ObjectType = 'public' | 'private' | 'cert' | 'secret-key' | 'data';

export interface LibraryVersion {
  major: number;
  /** Absent when the URI says only `library-version=M` (then any minor version matches). */
  minor?: number;
}

/** A parsed `pkcs11:` URI. Absent attributes match anything. */
export interface Pkcs11Uri {
  // Token (RFC 7512 2.3)
  token?: string;
  manufacturer?: string;
  model?: string;
  serial?: string;
  // Slot
  slotId?: bigint;
  slotDescription?: string;
  slotManufacturer?: string;
  // Library (the module)
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: LibraryVersion;
  // Object
  object?: string;
  type?: ObjectType;
  id?: Uint8Array;
  // Query
  modulePath?: string;
  moduleName?: string;
  pinSource?: string;
  pinValue?: string;
}

const OBJECT_TYPES: readonly ObjectType[] = ['public', 'private', 'cert', 'secret-key', 'data'];

const PATH_ATTRIBUTES = new Set([
  'token',
  'manufacturer',
  'model',
  'serial',
  'slot-id',
  'slot-description',
  'slot-manufacturer',
  'library-manufacturer',
  'library-description',
  'library-version',
  'object',
  'type',
  'id',
]);
const QUERY_ATTRIBUTES = new Set(['module-path', 'module-name', 'pin-source', 'pin-value']);
/** Names that carry a PIN, wherever they appear (`pin` is not RFC 7512 but users write it). */
const PIN_ATTRIBUTES = new Set(['pin-value', 'pin']);

function fail(uri: string, why: string): never {
  throw new UsageError(`invalid PKCS#11 URI ${redactUri(uri)}: ${why}`);
}

/** Percent-decodes to bytes. Literal characters pass through as UTF-8 (RFC 7512 wants them encoded, but people type spaces). */
function decodeBytes(uri: string, s: string): Buffer {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; ) {
    const c = s[i] as string;
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail(uri, 'a % must be followed by two hex digits (write % as %25)');
      out.push(Number.parseInt(hex, 16));
      i += 3;
      continue;
    }
    const cp = s.codePointAt(i) as number;
    if (cp < 0x20 || cp === 0x7f) fail(uri, 'control characters must be percent-encoded');
    const ch = String.fromCodePoint(cp);
    for (const b of enc.encode(ch)) out.push(b);
    i += ch.length;
  }
  return Buffer.from(out);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(uri: string, name: string, s: string): string {
  const bytes = decodeBytes(uri, s);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    fail(uri, `the value of ${name} is not UTF-8 text`);
  }
  if (text.includes('\0')) fail(uri, `the value of ${name} contains NUL`);
  return text;
}

function attributeName(uri: string, raw: string): string {
  // Names are plain ASCII in RFC 7512; decode anyway so that `pin%2Dvalue` is recognised.
  return decodeText(uri, 'an attribute name', raw).toLowerCase();
}

function splitAttributes(uri: string, part: string, separator: string): [string, string][] {
  const out: [string, string][] = [];
  for (const attr of part.split(separator)) {
    if (attr === '') continue; // tolerate `pkcs11:token=a;` and `?&module-path=…`
    const eq = attr.indexOf('=');
    if (eq <= 0) fail(uri, `expected NAME=VALUE, got an attribute without a name or value`);
    out.push([attributeName(uri, attr.slice(0, eq)), attr.slice(eq + 1)]);
  }
  return out;
}

function parseSlotId(uri: string, value: string): bigint {
  if (!/^[0-9]{1,20}$/.test(value)) fail(uri, 'slot-id must be a decimal number');
  const n = BigInt(value);
  if (n > 0xffffffffffffffffn) fail(uri, 'slot-id is too large');
  return n;
}

function parseLibraryVersion(uri: string, value: string): LibraryVersion {
  const m = /^([0-9]{1,3})(?:\.([0-9]{1,3}))?$/.exec(value);
  if (!m) fail(uri, 'library-version must be M or M.m (decimal)');
  const major = Number(m[1]);
  return m[2] === undefined ? { major } : { major, minor: Number(m[2]) };
}

/** Whether `uri` carries a PIN (`pin-value`, or a `pin` attribute) in its path or query. */
export function uriHasPinValue(uri: string): boolean {
  if (typeof uri !== 'string') return false;
  const body = uri.replace(/^pkcs11:/i, '');
  const q = body.indexOf('?');
  const parts = q < 0 ? [body] : [body.slice(0, q), body.slice(q + 1)];
  for (const part of parts) {
    for (const attr of part.split(/[;&]/)) {
      const eq = attr.indexOf('=');
      const raw = eq < 0 ? attr : attr.slice(0, eq);
      let name: string;
      try {
        name = decodeURIComponent(raw).toLowerCase();
      } catch {
        name = raw.toLowerCase();
      }
      if (PIN_ATTRIBUTES.has(name.trim())) return true;
    }
  }
  return false;
}

/** Parses a `pkcs11:` URI; throws UsageError naming the (redacted) URI and the problem. */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (typeof uri !== 'string') throw new UsageError('a PKCS#11 URI must be a string');
  if (!/^pkcs11:/i.test(uri)) fail(uri, 'it must start with pkcs11:');
  const body = uri.slice('pkcs11:'.length);
  if (body.includes('#')) fail(uri, 'PKCS#11 URIs have no fragment (percent-encode # as %23)');
  const q = body.indexOf('?');
  const path = q < 0 ? body : body.slice(0, q);
  const query = q < 0 ? '' : body.slice(q + 1);
  if (path.includes('/')) fail(uri, 'path attributes are separated by ; (percent-encode / as %2F)');

  const out: Pkcs11Uri = {};
  const seen = new Set<string>();
  const once = (name: string) => {
    if (seen.has(name)) fail(uri, `the attribute ${name} appears twice`);
    seen.add(name);
  };

  for (const [name, value] of splitAttributes(uri, path, ';')) {
    if (PIN_ATTRIBUTES.has(name) || QUERY_ATTRIBUTES.has(name)) {
      fail(uri, `${name} is a query attribute: write it after ? (pkcs11:…?${name}=…)`);
    }
    if (!PATH_ATTRIBUTES.has(name)) {
      fail(uri, `unknown attribute ${name} (expected ${[...PATH_ATTRIBUTES].join(', ')})`);
    }
    once(name);
    switch (name) {
      case 'token':
        out.token = decodeText(uri, name, value);
        break;
      case 'manufacturer':
        out.manufacturer = decodeText(uri, name, value);
        break;
      case 'model':
        out.model = decodeText(uri, name, value);
        break;
      case 'serial':
        out.serial = decodeText(uri, name, value);
        break;
      case 'slot-id':
        out.slotId = parseSlotId(uri, decodeText(uri, name, value));
        break;
      case 'slot-description':
        out.slotDescription = decodeText(uri, name, value);
        break;
      case 'slot-manufacturer':
        out.slotManufacturer = decodeText(uri, name, value);
        break;
      case 'library-manufacturer':
        out.libraryManufacturer = decodeText(uri, name, value);
        break;
      case 'library-description':
        out.libraryDescription = decodeText(uri, name, value);
        break;
      case 'library-version':
        out.libraryVersion = parseLibraryVersion(uri, decodeText(uri, name, value));
        break;
      case 'object':
        out.object = decodeText(uri, name, value);
        break;
      case 'type': {
        const t = decodeText(uri, name, value) as ObjectType;
        if (!OBJECT_TYPES.includes(t)) fail(uri, `type must be one of ${OBJECT_TYPES.join(', ')}`);
        out.type = t;
        break;
      }
      case 'id': {
        const id = decodeBytes(uri, value);
        if (id.length === 0) fail(uri, 'id must not be empty');
        out.id = new Uint8Array(id);
        break;
      }
    }
  }

  for (const [name, value] of splitAttributes(uri, query, '&')) {
    if (PATH_ATTRIBUTES.has(name)) fail(uri, `${name} is a path attribute: write it before ?`);
    if (!QUERY_ATTRIBUTES.has(name) && !PIN_ATTRIBUTES.has(name)) {
      fail(uri, `unknown query attribute ${name} (expected ${[...QUERY_ATTRIBUTES].join(', ')})`);
    }
    if (name === 'pin') fail(uri, 'the PIN attribute is pin-value (better: pin-source or TUFA_PIN)');
    once(name);
    const text = decodeText(uri, name, value);
    switch (name) {
      case 'module-path':
        if (text === '') fail(uri, 'module-path must not be empty');
        out.modulePath = text;
        break;
      case 'module-name':
        if (text === '') fail(uri, 'module-name must not be empty');
        out.moduleName = text;
        break;
      case 'pin-source':
        if (text === '') fail(uri, 'pin-source must not be empty');
        out.pinSource = text;
        break;
      case 'pin-value':
        out.pinValue = text;
        break;
    }
  }
  if (out.modulePath !== undefined && out.moduleName !== undefined) {
    fail(uri, 'give module-path or module-name, not both');
  }
  if (out.pinValue !== undefined && out.pinSource !== undefined) {
    fail(uri, 'give pin-value or pin-source, not both');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** RFC 7512 pk11-pchar / pk11-qchar: unreserved and a few sub-delims stay literal. */
function encodeValue(value: string | Uint8Array, query: boolean): string {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~:[\]@!$'()*+,]/.test(c) || (query && (c === '/' || c === '?' || c === '|'))) {
      out += c;
    } else {
      out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** `id` bytes as RFC 7512 writes them: every byte percent-encoded (`%01%02`). */
export function formatId(id: Uint8Array): string {
  return [...id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/**
 * A `pkcs11:` URI for `parts`. `pin-value` is never written: URIs end up in config files,
 * logs and process lists. `pin-source` and `module-path` are.
 */
export function formatPkcs11Uri(parts: Pkcs11Uri): string {
  const path: string[] = [];
  const add = (name: string, v: string | undefined) => {
    if (v !== undefined) path.push(`${name}=${encodeValue(v, false)}`);
  };
  add('token', parts.token);
  add('manufacturer', parts.manufacturer);
  add('model', parts.model);
  add('serial', parts.serial);
  if (parts.slotId !== undefined) path.push(`slot-id=${parts.slotId}`);
  add('slot-description', parts.slotDescription);
  add('slot-manufacturer', parts.slotManufacturer);
  add('library-manufacturer', parts.libraryManufacturer);
  add('library-description', parts.libraryDescription);
  if (parts.libraryVersion !== undefined) {
    const v = parts.libraryVersion;
    path.push(`library-version=${v.major}${v.minor === undefined ? '' : `.${v.minor}`}`);
  }
  add('object', parts.object);
  add('type', parts.type);
  if (parts.id !== undefined) path.push(`id=${formatId(parts.id)}`);
  const query: string[] = [];
  if (parts.modulePath !== undefined) query.push(`module-path=${encodeValue(parts.modulePath, true)}`);
  if (parts.moduleName !== undefined) query.push(`module-name=${encodeValue(parts.moduleName, true)}`);
  if (parts.pinSource !== undefined) query.push(`pin-source=${encodeValue(parts.pinSource, true)}`);
  return `pkcs11:${path.join(';')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
