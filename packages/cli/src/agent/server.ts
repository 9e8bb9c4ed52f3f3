/**
 * The agent itself: a process that holds unlocked signing keys in memory only and signs with
 * them for whoever can reach its Unix socket, which only its own user can (the socket's
 * directory is 0700 and the socket 0600; see docs/adr/0024-signing-agent.md). It holds only keys
 * added explicitly; it forgets them all after an idle timeout; while locked it signs nothing.
 * Nothing it holds is ever written anywhere: not to disk, not to a log, not in an error.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Key, type Signer } from '@tufa/core';
import { keyFileBytesSigner } from '@tufa/core/node';
import { decodeBase64 } from './base64.js';
import {
  AgentError,
  type AgentErrorCode,
  encodeFrame,
  FrameReader,
  MAX_REQUEST_BYTES,
  stringField,
} from './protocol.js';

export interface AgentOptions {
  /** The socket's path; its directory must exist, belong to this user and have mode 0700. */
  socket: string;
  /** Keys are forgotten this long after the last add or signature. */
  idleTimeoutMs: number;
  /** scrypt N for the lock passphrase's verifier (tests lower it as they do for key files). */
  lockScryptN?: number;
  /** A connection that sends nothing for this long is closed; tests shorten it. */
  connectionIdleMs?: number;
}

interface HeldKey {
  signer: Signer;
  label: string;
  root: boolean;
}

/** A connection that sends nothing for this long is closed (a stuck client holds no slot). */
const DEFAULT_CONNECTION_IDLE_MS = 60_000;

/** What `status` says about a key. */
export interface HeldKeyInfo {
  keyid: string;
  keytype: string;
  scheme: string;
  label: string;
  root: boolean;
}

function refuse(code: AgentErrorCode, message: string): never {
  throw new AgentError(code, message);
}

/**
 * Checks that `dir` is a directory (not a symbolic link) owned by this user that no one else
 * may enter: the control that keeps other users away from the socket.
 */
export function checkPrivateDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory())
    refuse('AGENT_UNSAFE_SOCKET', `${dir} is not a directory (expected the agent's own directory)`);
  if (uid !== undefined && st.uid !== uid) {
    refuse('AGENT_UNSAFE_SOCKET', `${dir} belongs to uid ${st.uid} (expected this user, uid ${uid})`);
  }
  if ((st.mode & 0o077) !== 0) {
    refuse(
      'AGENT_UNSAFE_SOCKET',
      `${dir} has mode ${(st.mode & 0o777).toString(8)} (expected 700: no access for group or others)`,
    );
  }
}

export class Agent {
  readonly #keys = new Map<string, HeldKey>();
  readonly #options: AgentOptions;
  #server: Server | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The lock: scrypt of the lock passphrase under a fresh salt; undefined when unlocked. */
  #lock: { salt: Buffer; hash: Buffer } | undefined;
  #closed: Promise<void> | undefined;
  #connections = new Set<Socket>();

  constructor(options: AgentOptions) {
    this.#options = options;
  }

  /** Listens on the socket; resolves once it accepts connections. */
  async listen(): Promise<void> {
    const { socket } = this.#options;
    checkPrivateDir(dirname(socket));
    const server = createServer((c) => this.#accept(c));
    this.#server = server;
    this.#closed = new Promise((done) => server.on('close', () => done()));
    // The socket is created 0600 (umask 0177 while binding), then set so explicitly.
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(socket, () => {
          server.off('error', fail);
          done();
        });
      });
    } finally {
      process.umask(previous);
    }
    await chmod(socket, 0o600);
  }

  /** Resolves when the agent has stopped (a `stop` request, or `close()`). */
  closed(): Promise<void> {
    return this.#closed ?? Promise.resolve();
  }

  /** Forgets every key and stops; `ending` (the connection that asked) is left to finish its answer. */
  close(ending?: Socket): void {
    this.#forget();
    for (const c of this.#connections) if (c !== ending) c.destroy();
    this.#server?.close();
  }

  #accept(c: Socket): void {
    this.#connections.add(c);
    c.on('close', () => this.#connections.delete(c));
    let pending = 0;
    // A connection idle with nothing to answer is closed; one waiting for a slow unlock is not.
    c.setTimeout(this.#options.connectionIdleMs ?? DEFAULT_CONNECTION_IDLE_MS, () => {
      if (pending === 0) c.destroy();
    });
    c.on('error', () => c.destroy());
    const reader = new FrameReader(MAX_REQUEST_BYTES);
    // One request at a time per connection, answered in order.
    let queue = Promise.resolve();
    c.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (frame.kind === 'fatal') {
          c.end(encodeFrame(errorBody('AGENT_PROTOCOL', frame.reason)));
          return;
        }
        pending++;
        queue = queue.then(async () => {
          const reply =
            frame.kind === 'malformed'
              ? errorBody('AGENT_PROTOCOL', frame.reason)
              : await this.#handle(frame.value).then(
                  (body) => ({ ok: true, ...body }),
                  (e: unknown) => errorFrom(e),
                );
          pending--;
          if (!c.destroyed) c.write(encodeFrame(reply));
          if (frame.kind === 'message' && frame.value['op'] === 'stop' && reply.ok) {
            c.end();
            this.close(c);
          }
        });
      }
    });
  }

  async #handle(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    const op = stringField(m, 'op');
    switch (op) {
      case 'status':
        return this.#status();
      case 'add':
        return this.#add(m);
      case 'sign':
        return this.#sign(m);
      case 'remove':
        return this.#remove(m);
      case 'lock':
        return this.#lockWith(m);
      case 'unlock':
        return this.#unlockWith(m);
      case 'stop':
        return { stopping: true };
      default:
        return refuse(
          'AGENT_PROTOCOL',
          `unknown operation ${op !== undefined && /^[a-z]{1,20}$/.test(op) ? op : '(not shown)'} (expected status, add, sign, remove, lock, unlock or stop)`,
        );
    }
  }

  #status(): Record<string, unknown> {
    const keys: HeldKeyInfo[] = this.#lock
      ? [] // A locked agent does not say what it holds, as ssh-agent does not.
      : [...this.#keys.values()].map((k) => ({
          keyid: k.signer.keyid,
          keytype: k.signer.key.keytype,
          scheme: k.signer.key.scheme,
          label: k.label,
          root: k.root,
        }));
    return {
      pid: process.pid,
      locked: this.#lock !== undefined,
      idleTimeoutSeconds: this.#options.idleTimeoutMs / 1000,
      keys,
    };
  }

  #notLocked(): void {
    if (this.#lock)
      refuse('AGENT_LOCKED', 'the agent is locked: it signs nothing and takes no keys until unlocked');
  }

  async #add(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.#notLocked();
    const file = stringField(m, 'keyFile');
    const bytes = file === undefined ? undefined : decodeBase64(file);
    const label = stringField(m, 'label');
    const passphrase = Object.hasOwn(m, 'passphrase') ? m['passphrase'] : undefined;
    const root = Object.hasOwn(m, 'root') ? m['root'] : false;
    if (bytes === undefined || label === undefined || typeof root !== 'boolean') {
      refuse('AGENT_PROTOCOL', 'add takes keyFile (base64), label (a string) and root (a boolean)');
    }
    if (passphrase !== undefined && typeof passphrase !== 'string') {
      refuse('AGENT_PROTOCOL', 'add: passphrase must be a string');
    }
    // Decrypted here, in the agent: the private key is never on the socket, only the key file
    // (encrypted) and its passphrase.
    const signer = await keyFileBytesSigner(
      bytes,
      async () => {
        if (passphrase === undefined) refuse('KEY', `${label} is encrypted: a passphrase is required`);
        return passphrase;
      },
      label,
    );
    this.#keys.set(signer.keyid, { signer, label, root });
    this.#touch();
    return {
      added: { keyid: signer.keyid, keytype: signer.key.keytype, scheme: signer.key.scheme, label, root },
    };
  }

  async #sign(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.#notLocked();
    const keyid = stringField(m, 'keyid');
    const data = stringField(m, 'data');
    const bytes = data === undefined ? undefined : decodeBase64(data);
    let expected: Key | undefined;
    try {
      expected = Object.hasOwn(m, 'key') ? Key.fromJSON(m['key'], 'key') : undefined;
    } catch {
      expected = undefined;
    }
    if (keyid === undefined || bytes === undefined || expected === undefined) {
      refuse('AGENT_PROTOCOL', 'sign takes keyid (a string), key (a TUF public key) and data (base64)');
    }
    const held = this.#keys.get(keyid);
    // The command names the key it expects: signing with another key under that keyid would
    // give signatures nobody can verify, so the whole public key object must be the same.
    if (!held || held.signer.key.keyid() !== expected.keyid()) {
      refuse('AGENT_NOT_HELD', `the agent does not hold the key ${keyid}`);
    }
    const signature = await held.signer.sign(bytes);
    this.#touch();
    return { sig: signature.sig };
  }

  /** Forgets one key. Allowed while locked: forgetting never needs the lock passphrase. */
  #remove(m: Record<string, unknown>): Record<string, unknown> {
    const keyid = stringField(m, 'keyid');
    if (keyid === undefined) refuse('AGENT_PROTOCOL', 'remove takes keyid (a string)');
    if (!this.#keys.delete(keyid)) refuse('AGENT_NOT_HELD', `the agent does not hold the key ${keyid}`);
    return { removed: keyid };
  }

  async #lockWith(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.#notLocked();
    const passphrase = stringField(m, 'passphrase');
    if (!passphrase) refuse('AGENT_PROTOCOL', 'lock takes a non-empty passphrase');
    const salt = randomBytes(16);
    this.#lock = { salt, hash: await this.#derive(passphrase, salt) };
    return { locked: true };
  }

  async #unlockWith(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    const lock = this.#lock;
    if (!lock) refuse('AGENT_NOT_LOCKED', 'the agent is not locked');
    const passphrase = stringField(m, 'passphrase');
    if (passphrase === undefined) refuse('AGENT_PROTOCOL', 'unlock takes a passphrase');
    const hash = await this.#derive(passphrase, lock.salt);
    if (!timingSafeEqual(hash, lock.hash)) {
      refuse('AGENT_BAD_PASSPHRASE', 'wrong passphrase: the agent stays locked');
    }
    this.#lock = undefined;
    return { locked: false };
  }

  #derive(passphrase: string, salt: Buffer): Promise<Buffer> {
    const N = this.#options.lockScryptN ?? 2 ** 15;
    return new Promise((done, fail) =>
      scrypt(passphrase.normalize('NFC'), salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 + 1024 }, (e, k) =>
        e ? fail(e) : done(k),
      ),
    );
  }

  /** A use (add or signature): the idle timeout starts again. Status requests are not uses. */
  #touch(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#forget(), this.#options.idleTimeoutMs);
  }

  /** Drops every key: the KeyObjects become unreachable and OpenSSL frees them. */
  #forget(): void {
    this.#keys.clear();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

function errorBody(code: AgentErrorCode, message: string): Record<string, unknown> & { ok: false } {
  return { ok: false, error: { code, message } };
}

/**
 * The error response for what a request threw. Agent and key errors keep their message (ours,
 * without secrets); anything else is not echoed (it could quote the request).
 */
function errorFrom(e: unknown): Record<string, unknown> & { ok: false } {
  if (e instanceof AgentError) return errorBody(e.code, e.message);
  const err = e as { code?: unknown; message?: unknown; name?: unknown };
  if ((err?.code === 'KEY' || err?.code === 'UNSUPPORTED_KEY') && typeof err.message === 'string') {
    return errorBody('KEY', err.message);
  }
  return errorBody('AGENT_PROTOCOL', 'the agent could not carry out the request');
}
