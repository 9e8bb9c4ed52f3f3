/** `tufa key generate|list|import|export|passwd`. */

import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { keyToPem, PrivateKeySigner, visible } from '@tufa/core';
import { changePassphrase, readKeyFile, redactUri, writeKeyFile } from '@tufa/core/node';
import { usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { asFileProblem, isSystemError, readOrExplain } from '../files.js';
import { allRepoConfigs, keyPath, keysDir } from '../home.js';
import {
  fileOf,
  generateKeyFile,
  keyKind,
  loadPublicKey,
  preparePkcs11,
  scryptN,
  toUri,
  withUnsupportedKeyHint,
} from '../keys.js';
import { keyTypeOption } from '../options.js';
import { newPassphrase, secretsFromEnvironment } from '../secrets.js';

/** A repository and role whose configuration names a key. */
interface KeyUse {
  gun: string;
  role: string;
}

/** Which repositories and roles use each key file, by path (from every repository's configuration). */
async function keyUsage(): Promise<Map<string, KeyUse[]>> {
  const usage = new Map<string, KeyUse[]>();
  for (const config of await allRepoConfigs()) {
    const roles: [string, string][] = [...Object.entries(config.keys), ...config.delegations];
    for (const [role, ref] of roles) {
      const file = fileOf(toUri(ref));
      if (file === undefined) continue;
      usage.set(file, [...(usage.get(file) ?? []), { gun: config.gun, role }]);
    }
  }
  return usage;
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'generate',
    description: 'generate a key pair, encrypted at rest',
    arguments: [argument('<name>', 'key name (stored in $TUFA_HOME/keys/NAME.json)')],
    options: [
      keyTypeOption('key type'),
      option('-o, --out <path>', 'write the key file here instead of $TUFA_HOME/keys'),
      option('--pkcs11 <uri>', 'generate the key pair on a PKCS#11 token instead'),
      option('--unencrypted', 'store the private key without a passphrase (not recommended)'),
    ],
    async handler(ctx, [name], opts) {
      const secrets = secretsFromEnvironment();
      if (opts.pkcs11) {
        // Generated on the token: the private key never leaves it. Refer to it by the URI printed.
        const m = await preparePkcs11(opts.pkcs11);
        if (!m) throw usage(`--pkcs11 takes a pkcs11: URI, e.g. 'pkcs11:token=root;object=${name}'`);
        const g = await m.generateKeyPairOnToken(opts.pkcs11, keyKind(opts.type), { secrets });
        ctx.out.result(
          {
            key: {
              name,
              keyid: g.keyid,
              keytype: g.key.keytype,
              scheme: g.key.scheme,
              uri: redactUri(g.uri),
              onToken: true,
            },
          },
          () => `${g.keyid}  ${visible(`${g.key.keytype}/${g.key.scheme}`)}  ${visible(redactUri(g.uri))}`,
        );
        return EXIT.OK;
      }
      const path = opts.out ? resolve(opts.out) : keyPath(name);
      const k = await generateKeyFile(path, name, keyKind(opts.type), secrets, {
        unencrypted: opts.unencrypted === true,
      });
      if (!k.encrypted) ctx.out.warn(`${path} holds an unencrypted private key`);
      ctx.out.result(
        {
          key: {
            name,
            keyid: k.key.keyid(),
            keytype: k.key.keytype,
            scheme: k.key.scheme,
            path,
            encrypted: k.encrypted,
          },
        },
        () => `${k.key.keyid()}  ${k.key.keytype}/${k.key.scheme}  ${path}`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'list',
    description: 'list keys in $TUFA_HOME/keys',
    arguments: [],
    options: [],
    async handler(ctx) {
      let names: string[] = [];
      try {
        names = (await readdir(keysDir())).filter((n) => n.endsWith('.json')).sort();
      } catch (e) {
        // No keys directory yet: no keys. Anything else (permissions) must not look like that.
        if (!isSystemError(e) || e.code !== 'ENOENT') asFileProblem(e, keysDir(), 'list the keys in');
      }
      const uses = await keyUsage();
      const keys: {
        name: string;
        keyid: string;
        keytype: string;
        scheme: string;
        encrypted: boolean;
        usedBy: KeyUse[];
      }[] = [];
      for (const file of names) {
        try {
          const path = join(keysDir(), file);
          const info = await readKeyFile(path);
          keys.push({
            name: file.slice(0, -5),
            keyid: info.keyid,
            keytype: info.key.keytype,
            scheme: info.key.scheme,
            encrypted: info.encrypted,
            usedBy: uses.get(path) ?? [],
          });
        } catch (e) {
          ctx.out.warn(`${file}: ${(e as Error).message}`);
        }
      }
      ctx.out.result({ keys }, () =>
        keys.length === 0
          ? 'no keys (tufa key generate NAME)'
          : keys
              .map(
                (k) =>
                  `${visible(k.name).padEnd(24)} ${visible(k.keyid)}  ${visible(k.keytype)}${k.encrypted ? '' : '  (unencrypted)'}\n    ${k.usedBy.length === 0 ? 'used by no repository set up here' : `used by ${k.usedBy.map((u) => `${visible(u.gun)} (${visible(u.role)})`).join(', ')}`}`,
              )
              .join('\n'),
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'import',
    description: 'import a private key, encrypting it at rest',
    arguments: [argument('<name>', 'key name'), argument('<file>', 'PKCS#8 PEM private key')],
    options: [option('--unencrypted', 'store the private key without a passphrase (not recommended)')],
    async handler(ctx, [name, file], opts) {
      const pem = (await readOrExplain(file, 'read the key')).toString('utf8');
      if (!pem.includes('PRIVATE KEY')) throw usage(`${file} is not a PEM private key`);
      const signer = withUnsupportedKeyHint(file, false, () => PrivateKeySigner.fromPem(pem));
      const secrets = secretsFromEnvironment();
      const protection = opts.unencrypted
        ? { unencrypted: true as const }
        : await secrets({ kind: 'passphrase', label: name, confirm: true });
      const n = scryptN();
      const path = keyPath(name);
      await writeKeyFile(
        path,
        { key: signer.key, privateKeyPem: signer.toPem() },
        protection,
        n ? { scryptN: n } : {},
      );
      if (opts.unencrypted) ctx.out.warn(`${path} holds an unencrypted private key`);
      ctx.out.result(
        { key: { name, keyid: signer.key.keyid(), keytype: signer.key.keytype, path } },
        () => `${signer.key.keyid()}  ${signer.key.keytype}  ${path}`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'export',
    description: 'print a public key',
    arguments: [argument('<key>', 'key name, path or URI')],
    options: [option('--pem', 'as a PEM public key instead of a TUF key object')],
    async handler(ctx, [ref], opts) {
      const key = await loadPublicKey(ref, secretsFromEnvironment());
      if (opts.pem) {
        const pem = key.keytype === 'ed25519' ? keyToPem(key) : String(key.keyval.public);
        ctx.out.result({ keyid: key.keyid(), pem }, () => pem.trimEnd());
      } else {
        ctx.out.result({ keyid: key.keyid(), key: key.toJSON() }, () =>
          JSON.stringify(key.toJSON(), null, 2),
        );
      }
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'passwd',
    description: 'change the passphrase of a key file',
    arguments: [argument('<key>', 'key name or path')],
    options: [],
    async handler(ctx, [ref]) {
      const uri = toUri(ref);
      if (!uri.startsWith('file:')) throw usage('only key files have a passphrase to change');
      const path = uri.slice(5);
      const secrets = secretsFromEnvironment();
      const old = await secrets({ kind: 'passphrase', label: `key file ${JSON.stringify(path)}` });
      const next = await newPassphrase(path);
      const n = scryptN();
      await changePassphrase(path, old, next, n ? { scryptN: n } : {});
      ctx.out.result({ key: { path, changed: true } }, () => `passphrase changed for ${path}`);
      return EXIT.OK;
    },
  }),
];
