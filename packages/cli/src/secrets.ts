/**
 * Passphrases and PINs: from the environment (`TUFA_PASSPHRASE_<KEYNAME>`, then
 * `TUFA_PASSPHRASE`; `TUFA_PIN` for tokens) or a hidden prompt on a terminal. Never from argv.
 * On a non-terminal with nothing in the environment, a clear error instead of a hang.
 */
import { basename } from 'node:path';
import { KeyError, visible } from '@tufa/core';
import type { SecretCallback, SecretRequest } from '@tufa/core/node';

/** `key file "/home/me/.tufa/keys/app-targets.json"` → `APP_TARGETS`. */
export function envName(label: string): string {
  const file = /^key file "(.+)"$/.exec(label)?.[1];
  const envVar = /^environment variable (\S+)$/.exec(label)?.[1];
  const name = file ? basename(file).replace(/\.(json|pem)$/, '') : (envVar ?? label);
  return name
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

function keyError(message: string, hint?: string): KeyError {
  return Object.assign(new KeyError(message), hint ? { hint } : {});
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = stdin.isRaw;
    // Echo off before the question shows: what is typed as soon as it appears is not echoed.
    stdin.setRawMode?.(true);
    process.stderr.write(visible(question));
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode?.(wasRaw ?? false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(keyError('interrupted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * The variable that holds the passphrase of `gun`'s key for `role` whatever the key is called:
 * `TUFA_PASSPHRASE_<GUN_SLUG>_<ROLE>`, e.g. `TUFA_PASSPHRASE_REGISTRY_EXAMPLE_COM_TEAM_APP_TARGETS`.
 * A rotation gives the role a new key under a new name; this name stays (as Notary's
 * `NOTARY_TARGETS_PASSPHRASE` did).
 */
export function rolePassphraseVariable(gun: string, role: string): string {
  return `TUFA_PASSPHRASE_${envName(gun)}_${envName(role)}`;
}

/**
 * `secrets` for the key of `gun`'s `role`: the key's own variable (`TUFA_PASSPHRASE_<KEYNAME>`)
 * first, then the role's (rolePassphraseVariable), then what `secrets` does (TUFA_PASSPHRASE, a
 * prompt).
 */
export function forRole(
  secrets: SecretCallback,
  gun: string,
  role: string,
  env: NodeJS.ProcessEnv = process.env,
): SecretCallback {
  return async (request: SecretRequest) => {
    if (request.kind === 'passphrase' && !env[`TUFA_PASSPHRASE_${envName(request.label)}`]) {
      const v = env[rolePassphraseVariable(gun, role)];
      if (v !== undefined && v !== '') return v;
    }
    return secrets(request);
  };
}

export function secretsFromEnvironment(env: NodeJS.ProcessEnv = process.env): SecretCallback {
  return async (request: SecretRequest) => {
    const specific = request.kind === 'pin' ? 'TUFA_PIN' : `TUFA_PASSPHRASE_${envName(request.label)}`;
    const general = request.kind === 'pin' ? 'TUFA_PIN' : 'TUFA_PASSPHRASE';
    const fromEnv = env[specific] ?? env[general];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw keyError(
        `no ${request.kind} for ${request.label} (not a terminal, and neither ${specific} nor ${general} is set)`,
        `export ${general}=… (or ${specific}) and run the command again`,
      );
    }
    const what = request.kind === 'pin' ? 'PIN' : 'Passphrase';
    const first = await promptHidden(`${what} for ${request.label}: `);
    if (request.confirm) {
      const again = await promptHidden(`Repeat the ${what.toLowerCase()}: `);
      if (again !== first) throw keyError(`the two ${what.toLowerCase()}s differ`);
    }
    return first;
  };
}

/** A new passphrase: `TUFA_NEW_PASSPHRASE`, or asked twice on a terminal. */
export async function newPassphrase(label: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.TUFA_NEW_PASSPHRASE;
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw keyError(
      `no new passphrase for ${label} (not a terminal, and TUFA_NEW_PASSPHRASE is not set)`,
      'export TUFA_NEW_PASSPHRASE=… and run the command again',
    );
  }
  const first = await promptHidden(`New passphrase for ${label}: `);
  const again = await promptHidden('Repeat the new passphrase: ');
  if (again !== first) throw keyError('the two passphrases differ');
  return first;
}

/**
 * A secret that is no key's passphrase (the agent's lock passphrase): `variable` from the
 * environment, or asked on a terminal (twice with `confirm`).
 */
export async function secretFromVariable(
  variable: string,
  label: string,
  confirm: boolean,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const fromEnv = env[variable];
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw keyError(
      `no ${label} (not a terminal, and ${variable} is not set)`,
      `export ${variable}=… and run the command again`,
    );
  }
  const first = await promptHidden(`${label[0]?.toUpperCase()}${label.slice(1)}: `);
  if (confirm && (await promptHidden('Repeat it: ')) !== first) throw keyError('the two passphrases differ');
  return first;
}
