/**
 * The `tufa agent` wire protocol (docs/adr/0024-signing-agent.md): over a Unix socket, each
 * message is a 4-byte big-endian length, then that many bytes of UTF-8 JSON. Every message
 * carries `tufa_agent: 1`, the protocol version; a peer speaking another version is refused, not
 * guessed at. Lengths are checked before anything is buffered, so a hostile or broken peer cannot
 * make either side hold more than the bound.
 */
import { parseJson } from '@tufa/core';
import { CliError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';

export const PROTOCOL_VERSION = 1;

/**
 * A request's bound: it carries the canonical bytes of the metadata to sign, and a flat targets
 * role of 100k tags is about 20 MB (base64 adds a third).
 */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;
/** A response carries one signature, or the list of keys: small. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Stable codes of agent errors, in `--json` output and in the protocol's error responses. */
export type AgentErrorCode =
  /** The agent is locked: it signs nothing until `tufa agent unlock`. */
  | 'AGENT_LOCKED'
  /** `unlock` of an agent that is not locked. */
  | 'AGENT_NOT_LOCKED'
  /** The unlock passphrase differs from the one given to `lock`. */
  | 'AGENT_BAD_PASSPHRASE'
  /** The agent does not hold the key asked for (never added, or forgotten after the idle timeout). */
  | 'AGENT_NOT_HELD'
  /** A request the agent cannot read: bad framing, JSON, version, operation or fields. */
  | 'AGENT_PROTOCOL'
  /** No agent answers at TUFA_AGENT_SOCK, or TUFA_AGENT_SOCK is not set. */
  | 'AGENT_UNREACHABLE'
  /** The socket or its directory is not this user's own private one: nothing is sent there. */
  | 'AGENT_UNSAFE_SOCKET'
  /** A root key offered without --allow-root. */
  | 'AGENT_ROOT_REFUSED'
  /** The agent's signature does not verify with the key the command expects. */
  | 'AGENT_BAD_SIGNATURE'
  /** The key file could not be unlocked (wrong passphrase, damaged file). */
  | 'KEY';

const EXIT_FOR: Record<AgentErrorCode, number> = {
  AGENT_LOCKED: EXIT.KEY,
  AGENT_NOT_LOCKED: EXIT.USAGE,
  AGENT_BAD_PASSPHRASE: EXIT.KEY,
  AGENT_NOT_HELD: EXIT.KEY,
  AGENT_PROTOCOL: EXIT.FAILURE,
  AGENT_UNREACHABLE: EXIT.IO,
  AGENT_UNSAFE_SOCKET: EXIT.KEY,
  AGENT_ROOT_REFUSED: EXIT.USAGE,
  AGENT_BAD_SIGNATURE: EXIT.KEY,
  KEY: EXIT.KEY,
};

/** An error about the agent: a stable `code`, the CLI's exit code for it and a hint. */
export class AgentError extends CliError {
  declare readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, hint?: string) {
    super(message, EXIT_FOR[code], hint, code);
    this.name = 'AgentError';
  }
}

/** One message as it goes on the wire. */
export function encodeFrame(message: Record<string, unknown>): Buffer {
  const body = Buffer.from(JSON.stringify({ tufa_agent: PROTOCOL_VERSION, ...message }), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

export type Frame =
  | { kind: 'message'; value: Record<string, unknown> }
  /** A frame whose body is not a JSON object of this protocol version: the stream stays in step. */
  | { kind: 'malformed'; reason: string }
  /** A length over the bound or zero: the rest of the stream cannot be trusted to be in step. */
  | { kind: 'fatal'; reason: string };

/**
 * Splits a byte stream into frames. `push` returns the frames completed by `chunk`; after a
 * fatal frame the reader returns nothing more.
 */
export class FrameReader {
  #buffered: Buffer[] = [];
  #size = 0;
  #broken = false;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): Frame[] {
    if (this.#broken) return [];
    this.#buffered.push(chunk);
    this.#size += chunk.length;
    const frames: Frame[] = [];
    while (this.#size >= 4) {
      const length = this.#head().readUInt32BE(0);
      if (length === 0 || length > this.max) {
        this.#broken = true;
        this.#buffered = [];
        this.#size = 0;
        frames.push({
          kind: 'fatal',
          reason: `message length ${length} out of bounds (expected 1 to ${this.max} bytes)`,
        });
        break;
      }
      // Joined once the whole message is here, not on every chunk: a large request arrives in
      // hundreds of chunks, and copying the buffer each time would be quadratic.
      if (this.#size < 4 + length) break;
      const all = Buffer.concat(this.#buffered, this.#size);
      const rest = all.subarray(4 + length);
      this.#buffered = rest.length > 0 ? [rest] : [];
      this.#size = rest.length;
      frames.push(decodeBody(all.subarray(4, 4 + length)));
    }
    return frames;
  }

  /** The first four bytes buffered (the length prefix). */
  #head(): Buffer {
    const first = this.#buffered[0] as Buffer;
    if (first.length >= 4) return first;
    const joined = Buffer.concat(this.#buffered, this.#size);
    this.#buffered = [joined];
    return joined;
  }
}

function decodeBody(body: Buffer): Frame {
  let value: unknown;
  try {
    // Strict: duplicate keys and other things JSON.parse lets through are refused (DESIGN rule 2).
    value = parseJson(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  } catch {
    return { kind: 'malformed', reason: 'the message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'malformed', reason: 'expected a JSON object' };
  }
  const v = value as Record<string, unknown>;
  if (v['tufa_agent'] !== PROTOCOL_VERSION) {
    return {
      kind: 'malformed',
      reason: `unsupported protocol version (expected tufa_agent ${PROTOCOL_VERSION}, got ${JSON.stringify(v['tufa_agent'] ?? null)})`,
    };
  }
  return { kind: 'message', value: v };
}

/** A field of a message, checked: `undefined` when it is absent or of another type. */
export function stringField(m: Record<string, unknown>, name: string): string | undefined {
  const v = Object.hasOwn(m, name) ? m[name] : undefined;
  return typeof v === 'string' ? v : undefined;
}
