/** A TUF signature object: `{ "keyid": KEYID, "sig": SIGNATURE, ... }`. */
import { FormatError, UsageError } from '../errors.js';
import { cloneJson, isRecord, own, setOwn, unknownFields } from './json-value.js';

const KNOWN = ['keyid', 'sig'] as const;

/**
 * One entry of a metadata file's `signatures`: which key signed (`keyid`) and the signature
 * (`sig`), with any fields this version does not know.
 */
export class Signature {
  /** The keyid of the signing key, opaque when verifying (DESIGN rule 6). */
  readonly keyid: string;
  /** Hex of the signature bytes; checked only when verifying (a malformed one never verifies). */
  readonly sig: string;
  /** Fields this version does not know, kept so they are re-emitted unchanged. */
  readonly unrecognized: Readonly<Record<string, unknown>>;

  /** @throws {@link errors!UsageError | UsageError} `unrecognized` repeats a known field. */
  constructor(keyid: string, sig: string, unrecognized: Record<string, unknown> = {}) {
    for (const k of KNOWN) {
      if (Object.hasOwn(unrecognized, k)) throw new UsageError(`'${k}' is not an unrecognized field`);
    }
    this.keyid = keyid;
    this.sig = sig;
    this.unrecognized = unknownFields(unrecognized, KNOWN, 'signature');
  }

  /**
   * Validates the shape only; `path` names the object in errors (e.g. `signatures[0]`).
   * @throws {@link errors!FormatError | FormatError} the object is not a signature object.
   */
  static fromJSON(obj: unknown, path: string): Signature {
    if (!isRecord(obj)) throw new FormatError('expected an object', path);
    const keyid = own(obj, 'keyid');
    const sig = own(obj, 'sig');
    if (typeof keyid !== 'string') throw new FormatError('expected a string', `${path}.keyid`);
    // An empty sig is well-formed (python-tuf accepts any string); it simply never verifies.
    if (typeof sig !== 'string') throw new FormatError('expected a string', `${path}.sig`);
    // Copied (and checked to be JSON) here so that errors name `path`.
    return new Signature(keyid, sig, unknownFields(obj, KNOWN, path));
  }

  /** The TUF signature object, a fresh plain object with unknown fields re-emitted. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { keyid: this.keyid, sig: this.sig };
    const extra = this.unrecognized;
    for (const k of Object.keys(extra)) setOwn(out, k, cloneJson(extra[k], `signature.${k}`));
    return out;
  }
}
