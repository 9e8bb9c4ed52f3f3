/**
 * Talking to `tufa agent`: one connection per request (a Unix socket connects in microseconds,
 * and nothing stays open to keep a command's process alive), and the signer that signing
 * commands use for a key the agent holds. Before anything is sent, the socket and its directory
 * must be this user's own and private: a passphrase sent by `agent add` must not reach a socket
 * someone else planted.
 */
import { lstatSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { type Key, Signature, type Signer } from '@tufa/core';
import { visible } from '@tufa/core/visible';
import { encodeBase64 } from './base64.js';
import {
  AgentError,
  type AgentErrorCode,
  encodeFrame,
  FrameReader,
  MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES,
  stringField,
} from './protocol.js';
import { checkPrivateDir, type HeldKeyInfo } from './server.js';

export const SOCK_VARIABLE = 'TUFA_AGENT_SOCK';
const START_HINT = 'eval "$(tufa agent start)"';

/** The agent's socket from TUFA_AGENT_SOCK, or undefined. */
export function agentSocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[SOCK_VARIABLE];
  return v === undefined || v === '' ? undefined : v;
}

/** The socket a command that needs the agent uses: TUFA_AGENT_SOCK, or a usage error. */
export function requireAgentSocket(): string {
  const sock = agentSocket();
  if (sock === undefined) {
    throw new AgentError('AGENT_UNREACHABLE', `no agent: ${SOCK_VARIABLE} is not set`, START_HINT);
  }
  return sock;
}

function checkSocket(path: string): void {
  try {
    checkPrivateDir(dirname(path));
    const st = lstatSync(path);
    const uid = process.getuid?.();
    if (!st.isSocket()) {
      throw new AgentError('AGENT_UNSAFE_SOCKET', `${path} is not a socket (expected the agent's socket)`);
    }
    if (uid !== undefined && st.uid !== uid) {
      throw new AgentError(
        'AGENT_UNSAFE_SOCKET',
        `${path} belongs to uid ${st.uid} (expected this user, uid ${uid})`,
      );
    }
  } catch (e) {
    if (e instanceof AgentError) throw e;
    const code = (e as { code?: string }).code;
    throw new AgentError(
      'AGENT_UNREACHABLE',
      `no agent at ${path} (${code === 'ENOENT' ? 'no such socket' : (code ?? 'cannot check it')})`,
      START_HINT,
    );
  }
}

export interface AgentReply {
  [field: string]: unknown;
}

/** Sends one request and returns the agent's answer; an error answer is thrown as an AgentError. */
export function request(sock: string, message: Record<string, unknown>): Promise<AgentReply> {
  checkSocket(sock);
  return new Promise((done, fail) => {
    const c = connect(sock);
    const reader = new FrameReader(MAX_RESPONSE_BYTES);
    let settled = false;
    const finish = (e: Error | undefined, v?: AgentReply) => {
      if (settled) return;
      settled = true;
      c.destroy();
      if (e) fail(e);
      else done(v as AgentReply);
    };
    c.on('connect', () => c.write(encodeFrame(message)));
    c.on('error', (e: NodeJS.ErrnoException) =>
      finish(
        new AgentError(
          'AGENT_UNREACHABLE',
          `no agent answers at ${sock} (${e.code ?? e.message})`,
          START_HINT,
        ),
      ),
    );
    c.on('close', () =>
      finish(
        new AgentError('AGENT_UNREACHABLE', `the agent at ${sock} closed the connection without answering`),
      ),
    );
    c.on('data', (chunk: Buffer) => {
      const frame = reader.push(chunk)[0];
      if (!frame) return;
      if (frame.kind !== 'message') {
        finish(
          new AgentError('AGENT_PROTOCOL', `the agent at ${sock} answered out of protocol (${frame.reason})`),
        );
        return;
      }
      const v = frame.value;
      if (v['ok'] === true) {
        finish(undefined, v);
        return;
      }
      const err = (typeof v['error'] === 'object' && v['error'] !== null ? v['error'] : {}) as Record<
        string,
        unknown
      >;
      finish(agentErrorFrom(stringField(err, 'code'), stringField(err, 'message') ?? 'the agent refused'));
    });
  });
}

const KNOWN: readonly AgentErrorCode[] = [
  'AGENT_LOCKED',
  'AGENT_NOT_LOCKED',
  'AGENT_BAD_PASSPHRASE',
  'AGENT_NOT_HELD',
  'AGENT_PROTOCOL',
  'KEY',
];

function agentErrorFrom(code: string | undefined, message: string): AgentError {
  const c = (KNOWN as readonly string[]).includes(code ?? '') ? (code as AgentErrorCode) : 'AGENT_PROTOCOL';
  const hint =
    c === 'AGENT_LOCKED'
      ? `tufa agent unlock (or unset ${SOCK_VARIABLE} to sign with the key files)`
      : c === 'AGENT_NOT_LOCKED' || c === 'AGENT_NOT_HELD'
        ? 'tufa agent list'
        : undefined;
  return new AgentError(c, message, hint);
}

export interface AgentStatus {
  pid: number;
  locked: boolean;
  idleTimeoutSeconds: number;
  keys: HeldKeyInfo[];
}

export async function agentStatus(sock: string): Promise<AgentStatus> {
  const r = await request(sock, { op: 'status' });
  if (typeof r['locked'] !== 'boolean' || !Array.isArray(r['keys']) || typeof r['pid'] !== 'number') {
    throw new AgentError('AGENT_PROTOCOL', `the agent at ${sock} answered status out of protocol`);
  }
  return {
    pid: r['pid'],
    locked: r['locked'],
    idleTimeoutSeconds: Number(r['idleTimeoutSeconds']),
    keys: r['keys'] as HeldKeyInfo[],
  };
}

/**
 * Signs through the agent. The private key stays in the agent; each signature that comes back
 * is checked against the public key the command expects before it is used.
 */
export class AgentSigner implements Signer {
  constructor(
    private readonly sock: string,
    readonly key: Key,
    readonly keyid: string,
    /** Where the key comes from when the agent has forgotten it since (idle timeout). */
    private readonly fallback: () => Promise<Signer>,
  ) {}

  async sign(data: Uint8Array): Promise<Signature> {
    // Metadata too large for one request (base64 adds a third) is signed from the key file.
    if (Math.ceil(data.length / 3) * 4 + 64 * 1024 > MAX_REQUEST_BYTES)
      return (await this.fallback()).sign(data);
    let sig: unknown;
    try {
      sig = (
        await request(this.sock, {
          op: 'sign',
          keyid: this.keyid,
          key: this.key.toJSON(),
          data: encodeBase64(data),
        })
      )['sig'];
    } catch (e) {
      if (e instanceof AgentError && e.code === 'AGENT_NOT_HELD') return (await this.fallback()).sign(data);
      throw e;
    }
    if (typeof sig !== 'string' || !(await this.key.verify(data, sig))) {
      throw new AgentError(
        'AGENT_BAD_SIGNATURE',
        `the agent at ${this.sock} returned a signature that does not verify with the key ${this.keyid}`,
        `tufa agent stop, then start a new agent (or unset ${SOCK_VARIABLE})`,
      );
    }
    return new Signature(this.keyid, sig);
  }
}

let statusOnce: Promise<AgentStatus | undefined> | undefined;

/**
 * The agent's signer for the key with `keyid` and `key` when TUFA_AGENT_SOCK names an agent that
 * holds it; undefined when there is no agent, or it does not hold the key (the command then
 * unlocks the key file as it would without an agent). A locked agent is an error: it signs
 * nothing, and a command that quietly fell back to the key file would hide that.
 */
export async function agentSignerFor(
  key: Key,
  keyid: string,
  fallback: () => Promise<Signer>,
): Promise<Signer | undefined> {
  const sock = agentSocket();
  if (sock === undefined) return undefined;
  statusOnce ??= agentStatus(sock).catch((e: unknown) => {
    if (e instanceof AgentError && (e.code === 'AGENT_UNREACHABLE' || e.code === 'AGENT_UNSAFE_SOCKET')) {
      process.stderr.write(`Warning: ${visible(e.message)}; using the key files\n`);
      return undefined;
    }
    throw e;
  });
  const status = await statusOnce;
  if (status === undefined) return undefined;
  if (status.locked) {
    throw new AgentError(
      'AGENT_LOCKED',
      `the agent at ${sock} is locked: it signs nothing until unlocked`,
      `tufa agent unlock (or unset ${SOCK_VARIABLE} to sign with the key files)`,
    );
  }
  const held = status.keys.some((k) => k.keyid === keyid);
  return held ? new AgentSigner(sock, key, keyid, fallback) : undefined;
}
