/**
 * The small part of pkcs11js this package uses, typed here (pkcs11js is an optional dependency:
 * this package must compile and load without it), the PKCS#11 constants we need, and the lazy
 * loader that turns a missing or broken native addon into a UsageError that says what to do.
 */
import { UsageError } from '@tufa/core';

/** Slot, session and object handles are opaque buffers in pkcs11js (a CK_ULONG, little-endian). */
export type Handle = Buffer;

export interface Attribute {
  type: number;
  value?: number | boolean | string | Buffer;
}

export interface AttributeResult {
  type: number;
  value: Buffer;
}

export interface Mechanism {
  mechanism: number;
  parameter?: Buffer | { type: number; hashAlg: number; mgf: number; saltLen: number };
}

export interface Version {
  major: number;
  minor: number;
}

export interface ModuleInfo {
  manufacturerID: string;
  libraryDescription: string;
  libraryVersion: Version;
}

export interface SlotInfo {
  slotDescription: string;
  manufacturerID: string;
  flags: number;
}

export interface TokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
}

/** One loaded PKCS#11 module (`new PKCS11()` then `load(path)`). */
export interface Pkcs11Module {
  load(path: string): void;
  close(): void;
  C_Initialize(options?: { flags?: number }): void;
  C_Finalize(): void;
  C_GetInfo(): ModuleInfo;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetSlotInfo(slot: Handle): SlotInfo;
  C_GetTokenInfo(slot: Handle): TokenInfo;
  C_GetMechanismList(slot: Handle): number[];
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_Logout(session: Handle): void;
  C_FindObjectsInit(session: Handle, template: Attribute[]): void;
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attribute[]): AttributeResult[];
  C_GenerateKeyPairAsync(
    session: Handle,
    mechanism: Mechanism,
    publicTemplate: Attribute[],
    privateTemplate: Attribute[],
  ): Promise<{ publicKey: Handle; privateKey: Handle }>;
  C_DestroyObject(session: Handle, object: Handle): void;
  C_SignInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_SignAsync(session: Handle, data: Buffer, out: Buffer): Promise<Buffer>;
}

/** What `import('pkcs11js')` provides that we use. */
export interface Pkcs11Binding {
  PKCS11: new () => Pkcs11Module;
  /** pkcs11js's id for CK_RSA_PKCS_PSS_PARAMS in a mechanism parameter. */
  CK_PARAMS_RSA_PSS: number;
}

// PKCS#11 2.40 / 3.0 constants (the values are fixed by the standard; pkcs11js does not export
// the 3.0 Edwards-curve ones).
export const CK = {
  // flags
  CKF_RW_SESSION: 0x2,
  CKF_SERIAL_SESSION: 0x4,
  CKF_OS_LOCKING_OK: 0x2,
  CKF_TOKEN_PRESENT: 0x1,
  CKF_LOGIN_REQUIRED: 0x4,
  CKF_PROTECTED_AUTHENTICATION_PATH: 0x100,
  CKF_TOKEN_INITIALIZED: 0x400,
  CKF_USER_PIN_LOCKED: 0x40000,
  // users
  CKU_USER: 1,
  CKU_CONTEXT_SPECIFIC: 2,
  // object classes
  CKO_CERTIFICATE: 1,
  CKO_PUBLIC_KEY: 2,
  CKO_PRIVATE_KEY: 3,
  // key types
  CKK_RSA: 0x0,
  CKK_EC: 0x3,
  CKK_EC_EDWARDS: 0x40,
  // attributes
  CKA_CLASS: 0x0,
  CKA_TOKEN: 0x1,
  CKA_PRIVATE: 0x2,
  CKA_LABEL: 0x3,
  CKA_VALUE: 0x11,
  CKA_KEY_TYPE: 0x100,
  CKA_ID: 0x102,
  CKA_SENSITIVE: 0x103,
  CKA_SIGN: 0x108,
  CKA_VERIFY: 0x10a,
  CKA_MODULUS: 0x120,
  CKA_MODULUS_BITS: 0x121,
  CKA_PUBLIC_EXPONENT: 0x122,
  CKA_EXTRACTABLE: 0x162,
  CKA_EC_PARAMS: 0x180,
  CKA_EC_POINT: 0x181,
  CKA_ALWAYS_AUTHENTICATE: 0x202,
  // mechanisms
  CKM_RSA_PKCS_KEY_PAIR_GEN: 0x0,
  CKM_RSA_PKCS_PSS: 0xd,
  CKM_SHA256_RSA_PKCS_PSS: 0x43,
  CKM_SHA256: 0x250,
  CKM_EC_KEY_PAIR_GEN: 0x1040,
  CKM_ECDSA: 0x1041,
  CKM_EC_EDWARDS_KEY_PAIR_GEN: 0x1055,
  CKM_EDDSA: 0x1057,
  CKG_MGF1_SHA256: 0x2,
} as const;

const INSTALL_HINT =
  'hardware keys need the optional dependency pkcs11js, which compiles a native addon ' +
  '(python3, make and a C++ compiler); install it next to @tufa/pkcs11: npm install pkcs11js@2';

function isModuleNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** How pkcs11js is imported; replaced in tests to simulate a machine without it. */
export type BindingImporter = () => Promise<unknown>;

// A variable specifier: TypeScript must not resolve the optional package at build time.
const PACKAGE = 'pkcs11js';
const defaultImporter: BindingImporter = () => import(PACKAGE);
let importer: BindingImporter = defaultImporter;
let loaded: Promise<Pkcs11Binding> | undefined;

/** For tests: use `fn` instead of `import('pkcs11js')` (undefined restores it). */
export function setBindingImporter(fn: BindingImporter | undefined): void {
  importer = fn ?? defaultImporter;
  loaded = undefined;
}

function asBinding(mod: unknown): Pkcs11Binding | undefined {
  // pkcs11js is CommonJS: its exports arrive as `default` (named exports are not detected).
  const m = mod as { default?: unknown } | null;
  const candidates = [m?.default, m];
  for (const c of candidates) {
    const b = c as Partial<Pkcs11Binding> | null | undefined;
    if (b && typeof b.PKCS11 === 'function' && typeof b.CK_PARAMS_RSA_PSS === 'number') {
      return b as Pkcs11Binding;
    }
  }
  return undefined;
}

async function importBinding(): Promise<Pkcs11Binding> {
  let mod: unknown;
  try {
    mod = await importer();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // A require() of the addon inside pkcs11js also fails with MODULE_NOT_FOUND: tell them apart.
    if (isModuleNotFound(e) && !/pkcs11\.node/.test(message)) {
      throw new UsageError(`pkcs11js is not installed: ${INSTALL_HINT}`);
    }
    throw new UsageError(
      `pkcs11js is installed but its native addon cannot be loaded (${message.split('\n')[0]}); ` +
        'rebuild it with: npm rebuild pkcs11js (needs python3, make and a C++ compiler)',
    );
  }
  const binding = asBinding(mod);
  if (binding === undefined) {
    throw new UsageError(`the installed pkcs11js is not a supported version: ${INSTALL_HINT}`);
  }
  return binding;
}

/** pkcs11js, imported on first use (never at module load: most users have no token). */
export function loadBinding(): Promise<Pkcs11Binding> {
  loaded ??= importBinding().catch((e: unknown) => {
    loaded = undefined; // let a later call retry (e.g. after an install)
    throw e;
  });
  return loaded;
}

/** Whether pkcs11js can be loaded here (for tools and tests that want to check first). */
export async function isPkcs11Available(): Promise<boolean> {
  try {
    await loadBinding();
    return true;
  } catch {
    return false;
  }
}
