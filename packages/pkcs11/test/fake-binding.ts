/**
 * A PKCS#11 module in JavaScript, standing in for pkcs11js in tests of what SoftHSM2 cannot do
 * (lock a PIN, lack a mechanism, lose a session mid-signature). It has one token holding Ed25519
 * keys made with node's crypto; its functions throw errors shaped like pkcs11js's Pkcs11Error
 * (`name`, a `CKR_…` message and the numeric `code`). `failures` queues return values that the
 * next calls of a function fail with.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type {
  Attribute,
  AttributeResult,
  Handle,
  Mechanism,
  Pkcs11Binding,
  Pkcs11Module,
} from '../src/binding.js';
import { CK } from '../src/binding.js';
import { CKR } from '../src/errors.js';

export function pkcs11Error(rv: number): Error {
  const name = Object.entries(CKR).find(([, v]) => v === rv)?.[0] ?? `CKR_${rv}`;
  return Object.assign(new Error(name), { name: 'Pkcs11Error', code: rv });
}

const ulong = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

function encode(value: Attribute['value']): Buffer {
  if (typeof value === 'number') return ulong(value);
  if (typeof value === 'boolean') return Buffer.from([value ? 1 : 0]);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value)) return value;
  return Buffer.alloc(0);
}

interface FakeObject {
  handle: Handle;
  attrs: Map<number, Buffer>;
  privateKey?: KeyObject;
}

export interface FakeState {
  tokenFlags: number;
  mechanisms: number[];
  pin: string;
  objects: FakeObject[];
  failures: Map<string, number[]>;
  calls: Map<string, number>;
  sessionsOpened: number;
  loginAttempts: string[];
  /** Calls made while a signature was in progress on the session (must stay 0). */
  interleaved: number;
}

export function fakeState(): FakeState {
  return {
    tokenFlags: CK.CKF_TOKEN_INITIALIZED | CK.CKF_LOGIN_REQUIRED,
    mechanisms: [CK.CKM_EDDSA, CK.CKM_ECDSA, CK.CKM_EC_KEY_PAIR_GEN, CK.CKM_SHA256_RSA_PKCS_PSS],
    pin: '1234',
    objects: [],
    failures: new Map(),
    calls: new Map(),
    sessionsOpened: 0,
    loginAttempts: [],
    interleaved: 0,
  };
}

let nextHandle = 1;

/** Adds an Ed25519 key pair (private and public objects) labelled `label` with CKA_ID `id`. */
export function addEd25519Key(state: FakeState, label: string, id: Buffer): void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const common = (cls: number): Map<number, Buffer> =>
    new Map([
      [CK.CKA_CLASS, ulong(cls)],
      [CK.CKA_KEY_TYPE, ulong(CK.CKK_EC_EDWARDS)],
      [CK.CKA_LABEL, Buffer.from(label)],
      [CK.CKA_ID, id],
      [CK.CKA_EC_PARAMS, Buffer.from('06032b6570', 'hex')],
    ]);
  const priv = common(CK.CKO_PRIVATE_KEY);
  priv.set(CK.CKA_SIGN, Buffer.from([1]));
  state.objects.push({ handle: ulong(nextHandle++), attrs: priv, privateKey });
  const pub = common(CK.CKO_PUBLIC_KEY);
  pub.set(CK.CKA_EC_POINT, Buffer.concat([Buffer.from([0x04, 0x20]), raw]));
  state.objects.push({ handle: ulong(nextHandle++), attrs: pub });
}

class FakeModule implements Pkcs11Module {
  #session = 0;
  #loggedIn = false;
  #found: Handle[] = [];
  #signing: { key: FakeObject; mechanism: number } | undefined;
  #busy = false;
  constructor(private readonly state: FakeState) {}

  #call(name: string): void {
    if (this.#busy) this.state.interleaved++;
    this.state.calls.set(name, (this.state.calls.get(name) ?? 0) + 1);
    const queue = this.state.failures.get(name);
    const rv = queue?.shift();
    if (rv !== undefined) throw pkcs11Error(rv);
  }

  load(_path: string): void {}
  close(): void {}
  C_Initialize(): void {
    this.#call('C_Initialize');
  }
  C_Finalize(): void {}
  C_GetInfo() {
    return {
      manufacturerID: 'tufa tests',
      libraryDescription: 'fake module',
      libraryVersion: { major: 1, minor: 0 },
    };
  }
  C_GetSlotList(): Handle[] {
    return [ulong(7)];
  }
  C_GetSlotInfo() {
    return { slotDescription: 'fake slot', manufacturerID: 'tufa tests', flags: CK.CKF_TOKEN_PRESENT };
  }
  C_GetTokenInfo() {
    return {
      label: 'fake'.padEnd(32, ' '),
      manufacturerID: 'tufa tests'.padEnd(32, ' '),
      model: 'fake'.padEnd(16, ' '),
      serialNumber: '0042'.padEnd(16, ' '),
      flags: this.state.tokenFlags,
    };
  }
  C_GetMechanismList(): number[] {
    return this.state.mechanisms;
  }
  C_OpenSession(): Handle {
    this.#call('C_OpenSession');
    this.state.sessionsOpened++;
    this.#session++;
    this.#loggedIn = false;
    this.#signing = undefined;
    return ulong(1000 + this.#session);
  }
  C_CloseSession(): void {}
  C_Login(_session: Handle, userType: number, pin?: string): void {
    this.state.loginAttempts.push(`${userType}:${pin}`);
    this.#call('C_Login');
    if (this.#loggedIn && userType === CK.CKU_USER) throw pkcs11Error(CKR.CKR_USER_ALREADY_LOGGED_IN);
    if (pin !== this.state.pin) throw pkcs11Error(CKR.CKR_PIN_INCORRECT);
    this.#loggedIn = true;
  }
  C_Logout(): void {
    this.#loggedIn = false;
  }
  C_FindObjectsInit(_session: Handle, template: Attribute[]): void {
    this.#call('C_FindObjectsInit');
    this.#found = this.state.objects
      .filter((o) => template.every((a) => o.attrs.get(a.type)?.equals(encode(a.value)) === true))
      .filter((o) => this.#loggedIn || !o.privateKey)
      .map((o) => o.handle);
  }
  C_FindObjects(_session: Handle, max: number): Handle[] {
    return this.#found.splice(0, max);
  }
  C_FindObjectsFinal(): void {}
  #object(handle: Handle): FakeObject {
    const o = this.state.objects.find((x) => x.handle.equals(handle));
    if (!o) throw pkcs11Error(CKR.CKR_OBJECT_HANDLE_INVALID);
    return o;
  }
  C_GetAttributeValue(_session: Handle, object: Handle, template: Attribute[]): AttributeResult[] {
    const o = this.#object(object);
    return template.map((a) => {
      const v = o.attrs.get(a.type);
      if (v === undefined) throw pkcs11Error(CKR.CKR_ATTRIBUTE_TYPE_INVALID);
      return { type: a.type, value: v };
    });
  }
  async C_GenerateKeyPairAsync(
    _session: Handle,
    mechanism: Mechanism,
  ): Promise<{ publicKey: Handle; privateKey: Handle }> {
    this.#call('C_GenerateKeyPair');
    if (!this.state.mechanisms.includes(mechanism.mechanism)) throw pkcs11Error(CKR.CKR_MECHANISM_INVALID);
    throw pkcs11Error(CKR.CKR_FUNCTION_FAILED);
  }
  C_DestroyObject(): void {}
  C_SignInit(_session: Handle, mechanism: Mechanism, key: Handle): void {
    this.#call('C_SignInit');
    if (!this.#loggedIn) throw pkcs11Error(CKR.CKR_USER_NOT_LOGGED_IN);
    if (this.#signing) throw pkcs11Error(CKR.CKR_OPERATION_ACTIVE);
    if (!this.state.mechanisms.includes(mechanism.mechanism)) throw pkcs11Error(CKR.CKR_MECHANISM_INVALID);
    this.#signing = { key: this.#object(key), mechanism: mechanism.mechanism };
  }
  async C_SignAsync(_session: Handle, data: Buffer, out: Buffer): Promise<Buffer> {
    const op = this.#signing;
    this.#signing = undefined;
    this.#call('C_Sign');
    if (!op?.key.privateKey) throw pkcs11Error(CKR.CKR_OPERATION_NOT_INITIALIZED);
    this.#busy = true;
    await new Promise((r) => setTimeout(r, 1)); // like a device: the loop turns meanwhile
    this.#busy = false;
    const sig = sign(null, data, op.key.privateKey);
    sig.copy(out);
    return out.subarray(0, sig.length);
  }
}

/** A pkcs11js look-alike whose modules all share `state`. */
export function fakeBinding(state: FakeState): Pkcs11Binding {
  return {
    PKCS11: class extends FakeModule {
      constructor() {
        super(state);
      }
    },
    CK_PARAMS_RSA_PSS: 5,
  };
}
