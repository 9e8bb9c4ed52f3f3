/**
 * PKCS#11 return values (CKR_*) turned into tufa's error tree (DESIGN principle 5): the token
 * errors a user can act on get their own stable message; anything else is a KeyError naming
 * the function and the return value.
 */
import { isTufError, KeyError, NotFoundError, type TufError, UsageError } from '@tufa/core';

export const CKR = {
  CKR_GENERAL_ERROR: 0x5,
  CKR_FUNCTION_FAILED: 0x6,
  CKR_ARGUMENTS_BAD: 0x7,
  CKR_CANT_LOCK: 0xa,
  CKR_ATTRIBUTE_SENSITIVE: 0x11,
  CKR_ATTRIBUTE_TYPE_INVALID: 0x12,
  CKR_ATTRIBUTE_VALUE_INVALID: 0x13,
  CKR_DATA_LEN_RANGE: 0x21,
  CKR_DEVICE_ERROR: 0x30,
  CKR_DEVICE_MEMORY: 0x31,
  CKR_DEVICE_REMOVED: 0x32,
  CKR_FUNCTION_CANCELED: 0x50,
  CKR_FUNCTION_NOT_SUPPORTED: 0x54,
  CKR_KEY_HANDLE_INVALID: 0x60,
  CKR_KEY_SIZE_RANGE: 0x62,
  CKR_KEY_TYPE_INCONSISTENT: 0x63,
  CKR_KEY_FUNCTION_NOT_PERMITTED: 0x68,
  CKR_MECHANISM_INVALID: 0x70,
  CKR_MECHANISM_PARAM_INVALID: 0x71,
  CKR_OBJECT_HANDLE_INVALID: 0x82,
  CKR_OPERATION_ACTIVE: 0x90,
  CKR_OPERATION_NOT_INITIALIZED: 0x91,
  CKR_PIN_INCORRECT: 0xa0,
  CKR_PIN_INVALID: 0xa1,
  CKR_PIN_LEN_RANGE: 0xa2,
  CKR_PIN_EXPIRED: 0xa3,
  CKR_PIN_LOCKED: 0xa4,
  CKR_SESSION_CLOSED: 0xb0,
  CKR_SESSION_COUNT: 0xb1,
  CKR_SESSION_HANDLE_INVALID: 0xb3,
  CKR_SESSION_READ_ONLY: 0xb5,
  CKR_TEMPLATE_INCOMPLETE: 0xd0,
  CKR_TEMPLATE_INCONSISTENT: 0xd1,
  CKR_TOKEN_NOT_PRESENT: 0xe0,
  CKR_TOKEN_NOT_RECOGNIZED: 0xe1,
  CKR_TOKEN_WRITE_PROTECTED: 0xe2,
  CKR_USER_ALREADY_LOGGED_IN: 0x100,
  CKR_USER_NOT_LOGGED_IN: 0x101,
  CKR_USER_PIN_NOT_INITIALIZED: 0x102,
  CKR_USER_TYPE_INVALID: 0x103,
  CKR_DOMAIN_PARAMS_INVALID: 0x130,
  CKR_CURVE_NOT_SUPPORTED: 0x140,
  CKR_CRYPTOKI_NOT_INITIALIZED: 0x190,
  CKR_CRYPTOKI_ALREADY_INITIALIZED: 0x191,
} as const;

const NAMES = new Map<number, string>(Object.entries(CKR).map(([k, v]) => [v, k]));

/** `CKR_PIN_INCORRECT (0xa0)`, or `CKR 0x…` for a value we have no name for. */
export function ckrName(rv: number): string {
  const name = NAMES.get(rv);
  const hex = `0x${rv.toString(16)}`;
  return name === undefined ? `CKR ${hex}` : `${name} (${hex})`;
}

/**
 * The CK_RV of an error pkcs11js threw (its Pkcs11Error carries `code` and a `CKR_…` message),
 * or undefined for anything else (a TypeError, a dlopen failure).
 */
export function ckrOf(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, message, name } = e as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0) return undefined;
  if (name === 'Pkcs11Error' || (typeof message === 'string' && message.startsWith('CKR_'))) return code;
  return undefined;
}

/** Errors after which the session (or its login, or a key handle) is gone: reopen and retry once. */
export const SESSION_LOST = new Set<number>([
  CKR.CKR_SESSION_HANDLE_INVALID,
  CKR.CKR_SESSION_CLOSED,
  CKR.CKR_DEVICE_REMOVED,
  CKR.CKR_TOKEN_NOT_PRESENT,
  CKR.CKR_USER_NOT_LOGGED_IN,
  CKR.CKR_OBJECT_HANDLE_INVALID,
  CKR.CKR_KEY_HANDLE_INVALID,
  CKR.CKR_OPERATION_ACTIVE,
  CKR.CKR_CRYPTOKI_NOT_INITIALIZED,
]);

export interface ErrorContext {
  /** The PKCS#11 function that failed, e.g. `C_Login`. */
  operation: string;
  /** The token, for messages: `token "YubiKey PIV #123"`. */
  token?: string;
  /** The redacted URI the caller gave. */
  uri?: string;
  /** For mechanism errors: what was attempted, e.g. `CKM_EDDSA (ed25519 signing)`. */
  mechanism?: string;
}

function where(ctx: ErrorContext): string {
  return ctx.token ?? (ctx.uri === undefined ? 'the token' : `the token of ${ctx.uri}`);
}

/**
 * A TufError for an error thrown by a PKCS#11 call. TufErrors pass through unchanged.
 * Messages are stable (tests and users match on them) and never contain a PIN.
 */
export function mapPkcs11Error(e: unknown, ctx: ErrorContext): TufError {
  if (isTufError(e)) return e;
  const rv = ckrOf(e);
  const token = where(ctx);
  const suffix = ctx.uri === undefined ? '' : ` (${ctx.uri})`;
  if (rv === undefined) {
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return new KeyError(`${ctx.operation} failed for ${token}: ${detail}${suffix}`, { cause: e });
  }
  switch (rv) {
    case CKR.CKR_PIN_INCORRECT:
      return new KeyError(
        `wrong PIN for ${token} (CKR_PIN_INCORRECT); the token may lock after more failures`,
        {
          cause: e,
        },
      );
    case CKR.CKR_PIN_LOCKED:
      return new KeyError(
        `the user PIN of ${token} is locked (CKR_PIN_LOCKED): unblock it with the PUK or SO PIN (for a YubiKey: ykman piv access unblock-pin), then try again`,
        { cause: e },
      );
    case CKR.CKR_PIN_EXPIRED:
      return new KeyError(
        `the PIN of ${token} has expired (CKR_PIN_EXPIRED): set a new one, then try again`,
        {
          cause: e,
        },
      );
    case CKR.CKR_PIN_LEN_RANGE:
    case CKR.CKR_PIN_INVALID:
      return new KeyError(`the PIN for ${token} has an invalid length or characters (${ckrName(rv)})`, {
        cause: e,
      });
    case CKR.CKR_USER_PIN_NOT_INITIALIZED:
      return new KeyError(`${token} has no user PIN set (CKR_USER_PIN_NOT_INITIALIZED)`, { cause: e });
    case CKR.CKR_MECHANISM_INVALID:
    case CKR.CKR_MECHANISM_PARAM_INVALID:
    case CKR.CKR_FUNCTION_NOT_SUPPORTED:
    case CKR.CKR_CURVE_NOT_SUPPORTED:
    case CKR.CKR_DOMAIN_PARAMS_INVALID:
      return new KeyError(
        `${token} does not support ${ctx.mechanism ?? 'this mechanism'} (${ckrName(rv)} from ${ctx.operation})${suffix}`,
        { cause: e },
      );
    case CKR.CKR_KEY_SIZE_RANGE:
      return new KeyError(`${token} does not support this key size (CKR_KEY_SIZE_RANGE)${suffix}`, {
        cause: e,
      });
    case CKR.CKR_TOKEN_NOT_PRESENT:
    case CKR.CKR_DEVICE_REMOVED:
      return new NotFoundError(`${token} was removed (${ckrName(rv)} from ${ctx.operation})${suffix}`);
    case CKR.CKR_TOKEN_WRITE_PROTECTED:
    case CKR.CKR_SESSION_READ_ONLY:
      return new KeyError(`${token} is write-protected (${ckrName(rv)}): cannot create keys on it`, {
        cause: e,
      });
    case CKR.CKR_KEY_FUNCTION_NOT_PERMITTED:
      return new KeyError(
        `the key may not sign (CKA_SIGN is false; CKR_KEY_FUNCTION_NOT_PERMITTED)${suffix}`,
        {
          cause: e,
        },
      );
    case CKR.CKR_FUNCTION_CANCELED:
      return new KeyError(
        `${ctx.operation} was cancelled on ${token} (CKR_FUNCTION_CANCELED; touch timeout?)`,
        {
          cause: e,
        },
      );
    case CKR.CKR_TEMPLATE_INCONSISTENT:
    case CKR.CKR_TEMPLATE_INCOMPLETE:
    case CKR.CKR_ATTRIBUTE_VALUE_INVALID:
      return new KeyError(
        `${token} refused the key attributes (${ckrName(rv)} from ${ctx.operation}); it may not support ${ctx.mechanism ?? 'this key type'} or these key settings${suffix}`,
        { cause: e },
      );
    case CKR.CKR_ARGUMENTS_BAD:
      return new UsageError(`${ctx.operation} rejected its arguments (CKR_ARGUMENTS_BAD)${suffix}`);
    default:
      return new KeyError(`${ctx.operation} failed for ${token}: ${ckrName(rv)}${suffix}`, { cause: e });
  }
}
