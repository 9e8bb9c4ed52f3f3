// Runs the CommonJS bundle of the CLI (dist/tufa.cjs) with the V8 code cache the build made
// beside it (dist/tufa.cjs.cache; scripts/code-cache.mjs, docs/adr/0030-cli-code-cache.md).
// Node 20 keeps no compiled code between runs of an ES module, and compiling the 0.8 MB bundle
// (and each function it then calls) is a large part of every `tufa verify`; a script compiled
// through `vm.Script` can start from V8's code cache instead.
//
// The bundle runs this way only when there is a cache made for it by this V8 (a line of the
// cache file names the V8 version and CPU architecture that made it): without one, compiling
// it through vm.Script is slower than importing the ES module bundle (dist/tufa.mjs), which
// bin/tufa.js then does. So a user whose Node differs from the one that built the package, or
// a checkout built without the cache, runs as fast as before the cache existed.
//
// The cache only ever makes a run faster, never different or failing:
// - V8 rejects a cache made by another V8 version or with other flags, or for a source of
//   another length (`script.cachedDataRejected`), and then compiles the source as usual;
// - V8 checks only a cache's header and the source's length (in release builds it does not
//   checksum the rest: a cache with flipped bytes past the header is accepted, tried on Node
//   20.20), so a damaged cache, or one left from another bundle of the same length, could run
//   as code that is not the bundle's. The file therefore starts with a SHA-256 of the bundle it
//   was made for and of V8's data (about 1.5 ms a run), and one that does not match is ignored
//   before V8 sees it.
//
// CommonJS, as every file in bin/ (bin/package.json): Node starts a CommonJS entry point without
// its ES module loader, a few ms less on every run.
'use strict';
const { isAscii } = require('node:buffer');
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname } = require('node:path');
const vm = require('node:vm');

/**
 * The name the bundle is compiled under, the same where the cache is made and where it is used:
 * a script compiled from a cache keeps the name it had when the cache was made (V8 11.3), so
 * the real path would be the build machine's. Stack traces (`--debug`) say
 * `@tufa/cli/dist/tufa.cjs:LINE:COLUMN`. `require` and `__filename` get the real path; the
 * bundle has no `import()` (scripts/bundle-cli.mjs turns it into `require`).
 */
const SCRIPT_NAME = '@tufa/cli/dist/tufa.cjs';

/**
 * What the cache file starts with: this text, the line of `ENGINE`, 32 bytes of SHA-256, then
 * V8's data.
 */
const MAGIC = Buffer.from('tufa-v8-code-cache-1\n');
/** The V8 that made the cache: a cache from any other is of no use (V8 would reject it). */
const ENGINE = Buffer.from(`${process.versions.v8} ${process.arch}\n`);
const DIGEST_BYTES = 32;
const HEADER_BYTES = MAGIC.length + ENGINE.length + DIGEST_BYTES;

const HEAD = '(function (exports, require, module, __filename, __dirname) {';
const TAIL = '\n})';

/**
 * The bundle as the function Node's own CommonJS loader would make of it. The hashbang line
 * becomes a comment of the same length, so lines and columns in stack traces stay the file's.
 */
function wrap(source) {
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  return `${HEAD}${body}${TAIL}`;
}

/**
 * SHA-256 of what was compiled (the wrapper and the bundle's bytes: hashing the bytes, not the
 * string, saves encoding 0.8 MB again) and of V8's data: what the cache file's header holds.
 */
function cacheDigest(source, data) {
  return createHash('sha256').update(HEAD).update(source).update(TAIL).update(data).digest();
}

/** The cache file's contents for V8's `data`, made by compiling the bundle `source` (bytes). */
function cacheFile(source, data) {
  return Buffer.concat([MAGIC, ENGINE, cacheDigest(source, data), data]);
}

/**
 * V8's data from a cache file, or undefined when it is not a whole cache made for `source` by
 * this V8 on this architecture.
 */
function cacheData(source, file) {
  if (file === undefined || file.length <= HEADER_BYTES) return undefined;
  if (!file.subarray(0, MAGIC.length + ENGINE.length).equals(Buffer.concat([MAGIC, ENGINE])))
    return undefined;
  const digest = file.subarray(HEADER_BYTES - DIGEST_BYTES, HEADER_BYTES);
  const data = file.subarray(HEADER_BYTES);
  return cacheDigest(source, data).equals(digest) ? data : undefined;
}

function readIfPresent(file) {
  try {
    return readFileSync(file);
  } catch (e) {
    if (e?.code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The bundle's text. The build keeps it ASCII (scripts/bundle-cli.mjs), and ASCII decodes as
 * Latin-1 with a plain copy, where UTF-8 decoding of 0.9 MB costs about 1–2 ms more on every run;
 * a file that is not ASCII (checked first, ~0.1 ms) is decoded as UTF-8, so the text is the same.
 */
function sourceText(source) {
  return isAscii(source) ? source.toString('latin1') : source.toString('utf8');
}

/**
 * Compiles `bundle` with `bundle + '.cache'` and runs it as a CommonJS module, when that is a
 * cache made for it by this V8 (or, with `withoutCache`, in any case: how the build makes the
 * first cache). Returns the compiled script and the bundle's bytes (the build makes the cache
 * from them) and whether V8 used the cache (false when V8 rejected it: other V8 flags); undefined
 * when it did not run the bundle.
 */
function runBundle(bundle, { withoutCache = false } = {}) {
  const source = readIfPresent(bundle);
  if (source === undefined) return undefined;
  const cachedData = cacheData(source, readIfPresent(`${bundle}.cache`));
  if (cachedData === undefined && !withoutCache) return undefined;
  const script = new vm.Script(wrap(sourceText(source)), { filename: SCRIPT_NAME, cachedData });
  const module = { exports: {}, filename: bundle, id: bundle, loaded: false };
  const fn = script.runInThisContext();
  fn.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return { script, source, used: cachedData !== undefined && !script.cachedDataRejected };
}

module.exports = {
  SCRIPT_NAME,
  MAGIC,
  ENGINE,
  wrap,
  cacheDigest,
  cacheFile,
  cacheData,
  sourceText,
  runBundle,
};
