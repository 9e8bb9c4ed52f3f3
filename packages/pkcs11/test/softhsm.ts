/**
 * Throwaway SoftHSM2 tokens for tests: a temporary token directory and config file, pointed to
 * by SOFTHSM2_CONF (SoftHSM reads it in C_Initialize, so set up tokens before the first use of
 * the module in a test file and call closePkcs11 afterwards).
 *
 * Without SoftHSM2 or pkcs11js the tests skip, saying why, except under CI=true, where the
 * check fails instead (DESIGN, "Tests").
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPkcs11Available } from '../src/binding.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const USER_PIN = '1234';
export const SO_PIN = '5678';
export const required = process.env['CI'] === 'true';

export interface Probe {
  available: boolean;
  /** Why not, when not available. */
  reason: string | undefined;
}

export async function probeSoftHsm(): Promise<Probe> {
  if (!existsSync(SOFTHSM_MODULE)) {
    return {
      available: false,
      reason: `SoftHSM2 is not installed (${SOFTHSM_MODULE}; apt-get install softhsm2)`,
    };
  }
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'pipe' });
  } catch {
    return { available: false, reason: 'softhsm2-util is not on the PATH (apt-get install softhsm2)' };
  }
  if (!(await isPkcs11Available())) {
    return { available: false, reason: 'pkcs11js is not installed or its native addon did not build' };
  }
  return { available: true, reason: undefined };
}

export interface SoftHsm {
  dir: string;
  /** `pkcs11:token=LABEL?module-path=…` for a token created here. */
  uri(label: string, more?: string): string;
  cleanup(): Promise<void>;
}

/** Creates a token directory with one initialized token per label (user PIN 1234). */
export async function createTokens(labels: string[]): Promise<SoftHsm> {
  const dir = await mkdtemp(join(tmpdir(), 'tufa-softhsm-'));
  const tokens = join(dir, 'tokens');
  await mkdir(tokens);
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  process.env['SOFTHSM2_CONF'] = conf;
  for (const label of labels) {
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', label, '--pin', USER_PIN, '--so-pin', SO_PIN],
      { stdio: 'pipe', env: { ...process.env, SOFTHSM2_CONF: conf } },
    );
  }
  return {
    dir,
    uri: (label, more = '') =>
      `pkcs11:token=${encodeURIComponent(label)}${more}?module-path=${SOFTHSM_MODULE}`,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
