/** The agent's framing: length-prefixed, versioned JSON, bounded before anything is buffered. */
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@tufa/core';
import { describe, expect, it } from 'vitest';
import { AgentSigner } from '../src/agent/client.js';
import { encodeFrame, type Frame, FrameReader, MAX_REQUEST_BYTES } from '../src/agent/protocol.js';
import { Agent } from '../src/agent/server.js';

function raw(body: string): Buffer {
  const b = Buffer.from(body, 'utf8');
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length, 0);
  return Buffer.concat([h, b]);
}

function kinds(frames: Frame[]): string[] {
  return frames.map((f) => (f.kind === 'message' ? `message:${String(f.value['op'])}` : f.kind));
}

describe('FrameReader', () => {
  it('reads frames split at every byte, and several in one chunk', () => {
    const bytes = Buffer.concat([
      encodeFrame({ op: 'a' }),
      encodeFrame({ op: 'b' }),
      encodeFrame({ op: 'c' }),
    ]);
    const byByte = new FrameReader(1024);
    const got: Frame[] = [];
    for (const b of bytes) got.push(...byByte.push(Buffer.from([b])));
    expect(kinds(got)).toEqual(['message:a', 'message:b', 'message:c']);
    expect(kinds(new FrameReader(1024).push(bytes))).toEqual(['message:a', 'message:b', 'message:c']);
  });

  it('reads a large frame arriving in many chunks', () => {
    const data = 'x'.repeat(3 * 1024 * 1024);
    const bytes = encodeFrame({ op: 'sign', data });
    const r = new FrameReader(8 * 1024 * 1024);
    const got: Frame[] = [];
    for (let i = 0; i < bytes.length; i += 65536) got.push(...r.push(bytes.subarray(i, i + 65536)));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ kind: 'message', value: { op: 'sign', data } });
  });

  it('a body that is not an object of this version is malformed, and the stream stays in step', () => {
    const r = new FrameReader(1024);
    const frames = r.push(
      Buffer.concat([
        raw('{not json'),
        raw('[1]'),
        raw('{"tufa_agent":2,"op":"x"}'),
        raw('{"op":"x"}'),
        raw('{"tufa_agent":1,"op":"x","op":"y"}'), // a duplicate key (strict parse)
        encodeFrame({ op: 'ok' }),
      ]),
    );
    expect(kinds(frames)).toEqual([
      'malformed',
      'malformed',
      'malformed',
      'malformed',
      'malformed',
      'message:ok',
    ]);
    expect(frames[2]).toMatchObject({ reason: expect.stringContaining('expected tufa_agent 1, got 2') });
  });

  it('a length of zero or over the bound is fatal before the body is read, and ends the stream', () => {
    const over = Buffer.alloc(4);
    over.writeUInt32BE(1025, 0);
    const r = new FrameReader(1024);
    expect(r.push(over)).toEqual([
      { kind: 'fatal', reason: 'message length 1025 out of bounds (expected 1 to 1024 bytes)' },
    ]);
    expect(r.push(encodeFrame({ op: 'after' }))).toEqual([]);
    expect(kinds(new FrameReader(1024).push(Buffer.alloc(4)))).toEqual(['fatal']);
  });
});

describe('AgentSigner', () => {
  it('signs metadata too large for one request from the key file, without asking the agent', async () => {
    const pair = await generateKeyPair('ed25519');
    let fellBack = 0;
    const signer = new AgentSigner(
      '/nonexistent/tufa-agent/agent.sock',
      pair.key,
      pair.key.keyid(),
      async () => {
        fellBack++;
        return pair.signer;
      },
    );
    const big = new Uint8Array(Math.ceil((MAX_REQUEST_BYTES * 3) / 4));
    const sig = await signer.sign(big);
    expect(fellBack).toBe(1);
    expect(await pair.key.verify(big, sig.sig)).toBe(true);
    // Anything smaller goes to the agent (here: none, so an error naming it).
    await expect(signer.sign(new Uint8Array(10))).rejects.toMatchObject({ code: 'AGENT_UNREACHABLE' });
    expect(fellBack).toBe(1);
  });
});

describe('Agent connections', () => {
  it('closes a connection that sends nothing, and keeps serving new ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tufa-agent-idle-'));
    chmodSync(dir, 0o700);
    const socket = join(dir, 'agent.sock');
    const agent = new Agent({ socket, idleTimeoutMs: 600_000, connectionIdleMs: 100 });
    await agent.listen();
    try {
      const silent = connect(socket);
      await once(silent, 'connect');
      // The agent, not this client, ends the silent connection.
      await once(silent, 'close');

      const next = connect(socket);
      await once(next, 'connect');
      next.write(encodeFrame({ op: 'status' }));
      const [reply] = new FrameReader(1 << 20).push((await once(next, 'data'))[0] as Buffer);
      expect(reply).toMatchObject({ kind: 'message', value: { ok: true, locked: false } });
      next.destroy();
    } finally {
      agent.close();
      await agent.closed();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
