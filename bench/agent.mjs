#!/usr/bin/env node
/**
 * Suite `agent`: the cost of signing N tags in each of M repositories with `tufa sign`, every
 * command unlocking its three keys from their key files (scrypt at the default cost, N = 2^17),
 * against the same signing with `tufa agent` holding the keys (start + add counted in).
 * Whole processes, as a release job runs them. Asserts nothing; prints a table and rewrites the
 * `bench:agent` section of docs/performance.md.
 *
 *   node bench/agent.mjs [TAGS_PER_REPO=5] [REPOS=3]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, gitRevision, machine, median, table, writeDocSection } from './lib/harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'packages', 'cli', 'bin', 'tufa.js');
const OUT = join(ROOT, '.bench-out', 'agent');
const PASSPHRASE = 'bench-agent-passphrase';

function tufa(args, env) {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      cwd: OUT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) fail(new Error(`tufa ${args.join(' ')} exited ${code}\n${stderr}`));
      else done({ ms, stdout });
    });
  });
}

const digest = (s) => `sha256:${Buffer.from(s.padEnd(32, '.')).toString('hex').slice(0, 64)}`;

export async function main(tags = 5, repos = 3) {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(join(OUT, 'tmp'), { recursive: true, mode: 0o700 });
  const base = { ...process.env, TUFA_HOME: join(OUT, 'home'), TMPDIR: join(OUT, 'tmp'), NO_COLOR: '1' };
  for (const k of Object.keys(base)) if (k.startsWith('TUFA_') && k !== 'TUFA_HOME') delete base[k];
  const withPass = { ...base, TUFA_PASSPHRASE: PASSPHRASE };
  const guns = Array.from({ length: repos }, (_, i) => `registry.example.com/bench/app${i}`);
  console.log(`agent: ${repos} repositories × ${tags} tags, key files at the default scrypt cost`);
  for (const gun of guns)
    await tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline'], withPass);

  // Without the agent: every command unlocks its three keys.
  const without = [];
  for (const gun of guns)
    for (let t = 0; t < tags; t++)
      without.push(
        (await tufa(['sign', gun, `a${t}`, '--digest', digest(`a${gun}${t}`), '--size', '1'], withPass)).ms,
      );

  // With the agent: start, add every repository's three keys (the passphrase once each), sign.
  const start = await tufa(['--json', 'agent', 'start', '--idle-timeout', '1h'], base);
  const sock = JSON.parse(start.stdout).agent.socket;
  const agentEnv = { ...base, TUFA_AGENT_SOCK: sock };
  const slug = (g) => g.replace(/[^A-Za-z0-9]+/g, '-');
  const keys = guns.flatMap((g) => ['targets', 'snapshot', 'timestamp'].map((r) => `${slug(g)}-${r}`));
  const add = await tufa(['agent', 'add', ...keys], { ...agentEnv, TUFA_PASSPHRASE: PASSPHRASE });
  const withAgent = [];
  for (const gun of guns)
    for (let t = 0; t < tags; t++)
      withAgent.push(
        (await tufa(['sign', gun, `b${t}`, '--digest', digest(`b${gun}${t}`), '--size', '1'], agentEnv)).ms,
      );
  await tufa(['agent', 'stop'], agentEnv);

  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const totalWithout = sum(without);
  const totalWith = start.ms + add.ms + sum(withAgent);
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const rows = [
    ['key files (no agent)', s(totalWithout), s(median(without)), '–', '1×'],
    [
      'tufa agent',
      s(totalWith),
      s(median(withAgent)),
      `${s(start.ms + add.ms)} (start ${s(start.ms)}, add ${keys.length} keys ${s(add.ms)})`,
      `${(totalWith / totalWithout).toFixed(2)}×`,
    ],
  ];
  const md = table(
    [
      'signing',
      `total, ${repos * tags} × tufa sign`,
      'median tufa sign',
      'session set-up (in total)',
      'ratio',
    ],
    rows,
    ['l', 'r', 'r', 'l', 'r'],
  );
  console.log(md);
  writeDocSection(
    'agent',
    `### Keys unlocked once: \`tufa agent\` (bench/agent.mjs)

${repos} repositories × ${tags} tags, one \`tufa sign\` per tag, key files at the default scrypt
cost (N = 2^17); whole processes, one run. Measured ${machine().date} on
${describeMachine(machine())}, ${gitRevision()}.

${md}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`)
  await main(Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 3));
