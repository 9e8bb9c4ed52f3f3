/**
 * Modules, tokens and sessions, shared across signers:
 *
 * - one loaded and initialized module per module file (by real path),
 * - one session per token (module + slot), opened on first use, logged in once and reused by
 *   every signer and operation on that token,
 * - one promise queue per session: PKCS#11 sessions are not re-entrant (a C_SignInit / C_Sign
 *   pair or a C_FindObjects* sequence must not interleave with another), so every operation on
 *   a session runs to completion before the next starts. Operations on different tokens run
 *   concurrently when the module can lock (CKF_OS_LOCKING_OK); a module that cannot (CKR_CANT_LOCK)
 *   gets one queue for all its tokens.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { KeyError, NotFoundError, UsageError } from '@tufa/core';
import { redactUri } from '@tufa/core/node';
import {
  type Attribute,
  CK,
  type Handle,
  loadBinding,
  type Pkcs11Binding,
  type Pkcs11Module,
} from './binding.js';
import { CKR, ckrOf, mapPkcs11Error } from './errors.js';
import type { PinProvider } from './pin.js';
import type { Pkcs11Uri } from './uri.js';

/** The environment variable naming the module when a URI has no `module-path`. */
export const MODULE_ENV = 'TUFA_PKCS11_MODULE';

/** Runs functions one at a time, in call order; a failure does not stop the queue. */
export class Queue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(() => fn());
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** What a token says about itself (the padded PKCS#11 strings trimmed). */
export interface TokenDescription {
  /** CK_SLOT_ID in decimal (a string: it can exceed 2^53). */
  slotId: string;
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  slotDescription: string;
  /** The token has been initialized (has a label and a user PIN may be set). */
  initialized: boolean;
  /** The token wants C_Login before private keys can be used. */
  loginRequired: boolean;
  /** The user PIN is locked (too many wrong PINs). */
  pinLocked: boolean;
  /** A PIN pad or other protected path: the PIN is entered on the device, not given to us. */
  protectedAuthenticationPath: boolean;
}

export interface ModuleState {
  readonly path: string;
  readonly binding: Pkcs11Binding;
  readonly module: Pkcs11Module;
  /** We called C_Initialize (so we call C_Finalize); false when the process had already. */
  readonly initializedByUs: boolean;
  /** The module cannot lock for threads: all its tokens share this queue. */
  readonly sharedQueue: Queue | undefined;
  readonly tokens: Map<string, TokenSession>;
  /** Set by `closePkcs11`: the module is finalized and unloaded; never call into it again. */
  closed: boolean;
}

const modules = new Map<string, Promise<ModuleState>>();
/** A `closePkcs11` in progress: modules are loaded again only after it finished. */
let closing: Promise<void> | undefined;

/** Trims the blank padding of PKCS#11 fixed-length strings (and NULs some modules leave). */
export function trimPadded(s: string): string {
  return s.replace(/[\s\0]+$/, '');
}

export function slotIdOf(slot: Handle): bigint {
  if (slot.length >= 8) return slot.readBigUInt64LE(0);
  if (slot.length >= 4) return BigInt(slot.readUInt32LE(0));
  throw new KeyError(`unexpected slot handle of ${slot.length} bytes from pkcs11js`);
}

export interface ModuleOptions {
  modulePath?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

/** The module file for `uri`: its `module-path`, else `options.modulePath`, else TUFA_PKCS11_MODULE. */
export function modulePathFor(uri: Pkcs11Uri, shown: string, options: ModuleOptions): string {
  if (uri.moduleName !== undefined) {
    throw new UsageError(
      `module-name is not supported (${shown}): name the module file with module-path=/path/to/module.so or ${MODULE_ENV}`,
    );
  }
  const env = options.env ?? process.env;
  const fromEnv = env[MODULE_ENV];
  const path =
    uri.modulePath ?? options.modulePath ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  if (path === undefined) {
    throw new UsageError(
      `no PKCS#11 module for ${shown}: add ?module-path=/path/to/module.so to the URI or set ${MODULE_ENV} ` +
        '(e.g. /usr/lib/softhsm/libsofthsm2.so, /usr/lib/x86_64-linux-gnu/libykcs11.so or opensc-pkcs11.so)',
    );
  }
  return path;
}

function moduleFileError(path: string, why: string): KeyError {
  return new KeyError(`cannot load the PKCS#11 module ${JSON.stringify(path)}: ${why}`);
}

async function loadModule(path: string): Promise<ModuleState> {
  const binding = await loadBinding();
  const module = new binding.PKCS11();
  try {
    module.load(path);
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new KeyError(`cannot load the PKCS#11 module ${JSON.stringify(path)}: ${message}`, { cause: e });
  }
  let initializedByUs = true;
  let sharedQueue: Queue | undefined;
  const init = (flags: number) => module.C_Initialize(flags === 0 ? {} : { flags });
  try {
    try {
      init(CK.CKF_OS_LOCKING_OK);
    } catch (e) {
      if (ckrOf(e) !== CKR.CKR_CANT_LOCK) throw e;
      init(0);
      sharedQueue = new Queue();
    }
  } catch (e) {
    if (ckrOf(e) === CKR.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      initializedByUs = false; // someone else in this process did; leave it initialized on close
    } else {
      try {
        module.close();
      } catch {
        // nothing more to release
      }
      throw mapPkcs11Error(e, { operation: 'C_Initialize', token: `the module ${JSON.stringify(path)}` });
    }
  }
  return { path, binding, module, initializedByUs, sharedQueue, tokens: new Map(), closed: false };
}

/** The module loaded from `path` (an absolute path to a shared library), loading it once. */
export async function getModule(path: string): Promise<ModuleState> {
  if (!isAbsolute(path)) {
    throw new UsageError(
      `the PKCS#11 module path must be absolute (got ${JSON.stringify(path)}): a relative one would be looked up in the current directory or the library path`,
    );
  }
  let real: string;
  try {
    if (!statSync(path).isFile()) throw moduleFileError(path, 'not a file');
    real = realpathSync(path);
  } catch (e) {
    if (e instanceof KeyError) throw e;
    const code = (e as { code?: string }).code;
    throw moduleFileError(path, code === 'ENOENT' ? 'no such file' : (code ?? 'cannot read it'));
  }
  while (closing !== undefined) await closing;
  let state = modules.get(real);
  if (state === undefined) {
    state = loadModule(real);
    modules.set(real, state);
    state.catch(() => {
      if (modules.get(real) === state) modules.delete(real);
    });
  }
  return state;
}

/** A token, its one session, and its login state. */
export class TokenSession {
  readonly state: ModuleState;
  readonly slot: Handle;
  readonly description: TokenDescription;
  readonly queue: Queue;
  /** Increments whenever the session is reopened: object handles from before are stale. */
  generation = 0;
  #session: Handle | undefined;
  #readOnly = false;
  #loggedIn = false;
  #mechanisms: Set<number> | null | undefined;

  constructor(state: ModuleState, slot: Handle, description: TokenDescription) {
    this.state = state;
    this.slot = slot;
    this.description = description;
    this.queue = state.sharedQueue ?? new Queue();
  }

  get module(): Pkcs11Module {
    return this.state.module;
  }

  /** `token "LABEL"` (with the serial when there is one), for messages and PIN prompts. */
  get name(): string {
    const d = this.description;
    return `token ${JSON.stringify(d.label)}${d.serial === '' ? '' : ` (serial ${d.serial})`}`;
  }

  get readOnly(): boolean {
    return this.#readOnly;
  }

  /** The open session (opening one if needed). Call inside `queue.run`. */
  session(): Handle {
    if (this.state.closed)
      throw new KeyError(`the PKCS#11 module ${JSON.stringify(this.state.path)} was closed`);
    if (this.#session !== undefined) return this.#session;
    const serial = CK.CKF_SERIAL_SESSION;
    try {
      this.#session = this.module.C_OpenSession(this.slot, serial | CK.CKF_RW_SESSION);
      this.#readOnly = false;
    } catch (e) {
      if (ckrOf(e) !== CKR.CKR_TOKEN_WRITE_PROTECTED) {
        throw mapPkcs11Error(e, { operation: 'C_OpenSession', token: this.name });
      }
      try {
        this.#session = this.module.C_OpenSession(this.slot, serial);
        this.#readOnly = true;
      } catch (e2) {
        throw mapPkcs11Error(e2, { operation: 'C_OpenSession', token: this.name });
      }
    }
    this.#loggedIn = false;
    return this.#session;
  }

  /** Drops the session (after the token reported it gone); the next operation opens a new one. */
  reset(): void {
    const s = this.#session;
    this.#session = undefined;
    this.#loggedIn = false;
    this.#mechanisms = undefined;
    this.generation++;
    if (s !== undefined) {
      try {
        this.module.C_CloseSession(s);
      } catch {
        // already gone
      }
    }
  }

  /** Fresh token flags (PIN state changes as logins fail). */
  flags(): number {
    try {
      return this.module.C_GetTokenInfo(this.slot).flags;
    } catch (e) {
      throw mapPkcs11Error(e, { operation: 'C_GetTokenInfo', token: this.name });
    }
  }

  /** Logs the session's user in, once; asks `pin` only when the token needs a PIN. Inside `queue.run`. */
  async login(pin: PinProvider): Promise<void> {
    const session = this.session();
    if (this.#loggedIn) return;
    const flags = this.flags();
    if ((flags & CK.CKF_LOGIN_REQUIRED) === 0) {
      this.#loggedIn = true;
      return;
    }
    if ((flags & CK.CKF_USER_PIN_LOCKED) !== 0) {
      // Checked first so that no PIN is asked for (or tried) in vain.
      throw mapPkcs11Error(Object.assign(new Error('CKR_PIN_LOCKED'), { code: CKR.CKR_PIN_LOCKED }), {
        operation: 'C_Login',
        token: this.name,
      });
    }
    // A PIN pad: C_Login without a PIN, the user types it on the device.
    const value = (flags & CK.CKF_PROTECTED_AUTHENTICATION_PATH) !== 0 ? undefined : await pin.get();
    try {
      if (value === undefined) this.module.C_Login(session, CK.CKU_USER);
      else this.module.C_Login(session, CK.CKU_USER, value);
    } catch (e) {
      const rv = ckrOf(e);
      if (rv !== CKR.CKR_USER_ALREADY_LOGGED_IN) {
        if (rv === CKR.CKR_PIN_INCORRECT) pin.forget();
        throw mapPkcs11Error(e, { operation: 'C_Login', token: this.name });
      }
    }
    this.#loggedIn = true;
  }

  /** The mechanisms the token lists, or undefined when it will not say. Cached per session. */
  mechanisms(): Set<number> | undefined {
    if (this.#mechanisms === undefined) {
      try {
        this.#mechanisms = new Set(this.module.C_GetMechanismList(this.slot));
      } catch {
        this.#mechanisms = null;
      }
    }
    return this.#mechanisms ?? undefined;
  }

  /** All objects matching `template`. Inside `queue.run`. */
  findObjects(template: Attribute[]): Handle[] {
    const session = this.session();
    const m = this.module;
    m.C_FindObjectsInit(session, template);
    const out: Handle[] = [];
    try {
      for (;;) {
        const batch = m.C_FindObjects(session, 64);
        if (batch.length === 0) break;
        out.push(...batch);
        if (out.length > 100_000) throw new KeyError(`${this.name} lists too many objects`);
      }
    } finally {
      m.C_FindObjectsFinal(session);
    }
    return out;
  }

  /**
   * The attributes of `object` that the token gives out; an attribute that is sensitive, or
   * does not exist for this object, is absent from the map. Inside `queue.run`.
   */
  attributes(object: Handle, types: number[]): Map<number, Buffer> {
    const session = this.session();
    const out = new Map<number, Buffer>();
    try {
      for (const a of this.module.C_GetAttributeValue(
        session,
        object,
        types.map((type) => ({ type })),
      )) {
        out.set(a.type, a.value);
      }
      return out;
    } catch (e) {
      const rv = ckrOf(e);
      if (rv !== CKR.CKR_ATTRIBUTE_TYPE_INVALID && rv !== CKR.CKR_ATTRIBUTE_SENSITIVE) throw e;
    }
    for (const type of types) {
      try {
        const [a] = this.module.C_GetAttributeValue(session, object, [{ type }]);
        if (a !== undefined) out.set(a.type, a.value);
      } catch (e) {
        const rv = ckrOf(e);
        if (rv !== CKR.CKR_ATTRIBUTE_TYPE_INVALID && rv !== CKR.CKR_ATTRIBUTE_SENSITIVE) throw e;
      }
    }
    return out;
  }
}

function describe(m: Pkcs11Module, slot: Handle): TokenDescription | undefined {
  let info: ReturnType<Pkcs11Module['C_GetTokenInfo']>;
  let slotDescription = '';
  try {
    info = m.C_GetTokenInfo(slot);
  } catch {
    return undefined; // unrecognized or removed meanwhile
  }
  try {
    slotDescription = trimPadded(m.C_GetSlotInfo(slot).slotDescription);
  } catch {
    slotDescription = '';
  }
  return {
    slotId: slotIdOf(slot).toString(),
    label: trimPadded(info.label),
    manufacturer: trimPadded(info.manufacturerID),
    model: trimPadded(info.model),
    serial: trimPadded(info.serialNumber),
    slotDescription,
    initialized: (info.flags & CK.CKF_TOKEN_INITIALIZED) !== 0,
    loginRequired: (info.flags & CK.CKF_LOGIN_REQUIRED) !== 0,
    pinLocked: (info.flags & CK.CKF_USER_PIN_LOCKED) !== 0,
    protectedAuthenticationPath: (info.flags & CK.CKF_PROTECTED_AUTHENTICATION_PATH) !== 0,
  };
}

/** Every slot with a token present, described. */
export function presentTokens(state: ModuleState): { slot: Handle; description: TokenDescription }[] {
  let slots: Handle[];
  try {
    slots = state.module.C_GetSlotList(true);
  } catch (e) {
    throw mapPkcs11Error(e, {
      operation: 'C_GetSlotList',
      token: `the module ${JSON.stringify(state.path)}`,
    });
  }
  const out: { slot: Handle; description: TokenDescription }[] = [];
  for (const slot of slots) {
    const description = describe(state.module, slot);
    if (description !== undefined) out.push({ slot, description });
  }
  return out;
}

function libraryMatches(state: ModuleState, uri: Pkcs11Uri): boolean {
  if (
    uri.libraryManufacturer === undefined &&
    uri.libraryDescription === undefined &&
    uri.libraryVersion === undefined
  ) {
    return true;
  }
  const info = state.module.C_GetInfo();
  if (uri.libraryManufacturer !== undefined && trimPadded(info.manufacturerID) !== uri.libraryManufacturer) {
    return false;
  }
  if (
    uri.libraryDescription !== undefined &&
    trimPadded(info.libraryDescription) !== uri.libraryDescription
  ) {
    return false;
  }
  const v = uri.libraryVersion;
  if (v !== undefined) {
    if (info.libraryVersion.major !== v.major) return false;
    if (v.minor !== undefined && info.libraryVersion.minor !== v.minor) return false;
  }
  return true;
}

/** Whether the token/slot attributes of `uri` select this token. */
export function tokenMatches(d: TokenDescription, uri: Pkcs11Uri): boolean {
  if (uri.token !== undefined && d.label !== uri.token) return false;
  if (uri.manufacturer !== undefined && d.manufacturer !== uri.manufacturer) return false;
  if (uri.model !== undefined && d.model !== uri.model) return false;
  if (uri.serial !== undefined && d.serial !== uri.serial) return false;
  if (uri.slotId !== undefined && d.slotId !== uri.slotId.toString()) return false;
  if (uri.slotDescription !== undefined && d.slotDescription !== uri.slotDescription) return false;
  return true;
}

function listForMessage(tokens: TokenDescription[]): string {
  return tokens
    .map(
      (d) => `${JSON.stringify(d.label)}${d.serial === '' ? '' : ` serial ${d.serial}`} slot-id ${d.slotId}`,
    )
    .join(', ');
}

/** The one initialized token `uri` selects in the module at `path`, with its shared session. */
export async function openToken(uri: Pkcs11Uri, rawUri: string, path: string): Promise<TokenSession> {
  const shown = redactUri(rawUri);
  const state = await getModule(path);
  const present = presentTokens(state).filter((t) => t.description.initialized);
  const slotManufacturerMatches = (slot: Handle): boolean => {
    if (uri.slotManufacturer === undefined) return true;
    try {
      return trimPadded(state.module.C_GetSlotInfo(slot).manufacturerID) === uri.slotManufacturer;
    } catch {
      return false;
    }
  };
  const matching = libraryMatches(state, uri)
    ? present.filter((t) => tokenMatches(t.description, uri) && slotManufacturerMatches(t.slot))
    : [];
  if (matching.length === 0) {
    const seen =
      present.length === 0
        ? 'no initialized token is present: is it plugged in?'
        : `tokens present: ${listForMessage(present.map((t) => t.description))}`;
    throw new NotFoundError(
      `no token matches ${shown} in the PKCS#11 module ${JSON.stringify(path)} (${seen})`,
    );
  }
  if (matching.length > 1) {
    throw new UsageError(
      `${matching.length} tokens match ${shown} (${listForMessage(matching.map((t) => t.description))}): add token=LABEL or serial=SERIAL to the URI`,
    );
  }
  const { slot, description } = matching[0] as { slot: Handle; description: TokenDescription };
  // Keyed by slot and the token's identity: a different token in the same reader is a new session.
  const key = `${description.slotId}\0${description.serial}\0${description.label}`;
  let token = state.tokens.get(key);
  if (token === undefined) {
    token = new TokenSession(state, slot, description);
    state.tokens.set(key, token);
  }
  return token;
}

/**
 * Logs out, closes every session and finalizes every module this package loaded. Signers made
 * before reopen the module and log in again on their next `sign`. For tests and
 * long-running processes that want to release tokens; a CLI need not call it.
 */
export async function closePkcs11(): Promise<void> {
  while (closing !== undefined) await closing;
  const states = [...modules.values()];
  modules.clear();
  const run = async () => {
    for (const pending of states) {
      let state: ModuleState;
      try {
        state = await pending;
      } catch {
        continue;
      }
      // First refuse new work, then wait for the operation in progress on each session: a
      // module must not be finalized under a signature running in the thread pool.
      state.closed = true;
      for (const token of state.tokens.values()) {
        await token.queue.run(() => token.reset());
      }
      state.tokens.clear();
      try {
        if (state.initializedByUs) state.module.C_Finalize();
      } catch {
        // already finalized
      }
      try {
        state.module.close();
      } catch {
        // already closed
      }
    }
  };
  closing = run().finally(() => {
    closing = undefined;
  });
  await closing;
}
