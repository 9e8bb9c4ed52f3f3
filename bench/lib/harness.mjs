/**
 * Shared by every suite (core, client, repository): child-process measurement with a time
 * cap and peak-memory capture, statistics, machine description, table formatting, and
 * replacing one suite's generated section of docs/performance.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT_DIR } from './fixtures.mjs';

export const DOC_PATH = join(ROOT_DIR, 'docs', 'performance.md');

function readProcStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(s);
      return m ? Number(m[1]) : undefined;
    };
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return undefined; // not Linux, or the process is gone
  }
}

/**
 * Runs `node [nodeArgs] script args` and resolves with the object the child printed on a
 * line starting `RESULT `. The parent samples the child's RSS from /proc every 50 ms (Linux),
 * so a child killed at `timeoutMs` still reports how much memory it had reached.
 */
export function runChild(script, args, { timeoutMs, nodeArgs = [] }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      cwd: ROOT_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sampledPeakKb = 0;
    let timedOut = false;
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const sample = () => {
      const st = readProcStatus(child.pid);
      if (st) sampledPeakKb = Math.max(sampledPeakKb, st.hwmKb ?? 0, st.rssKb ?? 0);
    };
    const sampler = setInterval(sample, 50);
    const timer = setTimeout(() => {
      timedOut = true;
      sample();
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (timedOut) {
        resolve({ ok: false, timedOut: true, wallMs, sampledPeakKb });
      } else if (code === 0 && line) {
        resolve({ ok: true, result: JSON.parse(line.slice(7)), wallMs, sampledPeakKb });
      } else {
        resolve({ ok: false, error: stderr.trim() || `exit ${code ?? signal}`, wallMs, sampledPeakKb });
      }
    });
  });
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const RUSAGE = join(ROOT_DIR, 'bench', 'lib', 'rusage.py');
const PYTHON = (() => {
  try {
    execFileSync('python3', ['-c', 'import os; os.wait4'], { stdio: 'ignore' });
    return 'python3';
  } catch {
    return undefined;
  }
})();

/** How `runCommand` measured, for a bench's method paragraph. */
export const COMMAND_MEASURE = PYTHON
  ? 'wall time from fork to exit, CPU time (user + system) and peak RSS as the kernel counted them (wait4, bench/lib/rusage.py)'
  : 'wall time from spawn to exit; CPU time (user + system, in 10 ms steps) and peak RSS from /usr/bin/time';

/**
 * Runs a command to its end, as a whole process: exit code, wall time, output, peak RSS (KB) and
 * CPU time (user + system, ms; steadier than wall time on a shared machine). With python3, from
 * the kernel's own count (wait4, bench/lib/rusage.py: CPU in microseconds, wall time from fork to
 * exit, without Python's start); else from /usr/bin/time (CPU in 10 ms steps; wall time from
 * spawn to exit).
 */
export function runCommand(cmd, args, { env = {}, cwd, timeoutMs = 1_800_000 } = {}) {
  return new Promise((resolve) => {
    const rssFile = join(os.tmpdir(), `.tufa-bench-rss-${process.pid}-${randomUUID()}`);
    const [c, a] = PYTHON
      ? [PYTHON, [RUSAGE, rssFile, cmd, ...args]]
      : TIME
        ? [TIME, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args]]
        : [cmd, args];
    const t0 = performance.now();
    const child = spawn(c, a, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      let wallMs = performance.now() - t0;
      clearTimeout(timer);
      let maxRssKb;
      let cpuMs;
      try {
        const fields = readFileSync(rssFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
        if (PYTHON) {
          const [, wallUs, cpuUs, rss] = fields;
          wallMs = wallUs / 1000;
          cpuMs = cpuUs / 1000;
          maxRssKb = rss;
        } else {
          const [rss, user, sys] = fields;
          maxRssKb = rss;
          cpuMs = (user + sys) * 1000;
        }
      } catch {}
      rmSync(rssFile, { force: true });
      resolve({ code, wallMs, stdout, stderr, maxRssKb, cpuMs });
    });
  });
}

/** In the child: print the result for `runChild`. */
export function reportResult(obj) {
  process.stdout.write(`RESULT ${JSON.stringify(obj)}\n`);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmtMs(ms) {
  if (ms === undefined || Number.isNaN(ms)) return '–';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtMb(kb) {
  return kb === undefined ? '–' : `${(kb / 1024).toFixed(0)} MB`;
}

export function fmtRatio(r) {
  if (r === undefined || !Number.isFinite(r)) return '–';
  if (r >= 100) return `${r.toFixed(0)}×`;
  return r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}×`;
}

export function fmtBytes(n) {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} KB`;
}

export function machine() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    nproc: os.availableParallelism?.() ?? cpus.length,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    memGb: (os.totalmem() / 1024 ** 3).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** The commit measured, e.g. `87ac457` or `87ac457 + uncommitted changes in packages/`. */
export function gitRevision() {
  try {
    const git = (...a) => execFileSync('git', a, { cwd: ROOT_DIR, encoding: 'utf8' }).trim();
    const rev = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--', 'packages') ? `${rev} + uncommitted changes in packages/` : rev;
  } catch {
    return 'unknown revision';
  }
}

export function describeMachine(m) {
  return `${m.nproc} × ${m.cpu}, ${m.memGb} GB RAM, ${m.os}, Node ${m.node}`;
}

/** A GitHub-flavoured Markdown table (also readable as plain text on stdout). */
export function table(header, rows, align) {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const line = (r) =>
    `| ${r.map((c, i) => (align?.[i] === 'l' ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (align?.[i] === 'l' ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}

const DOC_HEADER = `# Performance

Benchmarks live in \`bench/\` and are not part of the tests. \`npm run bench\` builds and runs
every suite; \`node bench/run.mjs core|client|repository|adversarial|all\` runs one. Each suite rewrites
only its own generated section of this file (between its \`bench:<suite>\` markers); text
outside the markers is written by hand.
`;

/** Replaces (or appends) the section between `<!-- bench:key:begin -->` and `<!-- bench:key:end -->`. */
export function writeDocSection(key, markdown) {
  const begin = `<!-- bench:${key}:begin -->`;
  const end = `<!-- bench:${key}:end -->`;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  let doc = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : DOC_HEADER;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) doc = doc.slice(0, a) + block + doc.slice(b + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(DOC_PATH, doc);
}

/** `BIN serve DIR --port 0` (a tufa entry point run by this Node) → { url, child }. */
export function tufaServe(bin, pub) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', pub, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('tufa serve printed no URL')), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const url = /(http:\/\/\S+?)\/?(\s|$)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ url, child });
      }
    });
    child.on('exit', (code) => reject(new Error(`tufa serve exited (${code})`)));
  });
}
