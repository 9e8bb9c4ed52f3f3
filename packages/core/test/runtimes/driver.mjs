// The Deno and Bun side of runtimes.test.ts: runs the client test table's inputs (JSON on argv)
// with @tufa/core as the runtime resolves it (Deno: the portable entry and WebCrypto; Bun: the
// Node flavour) and prints one JSON line. With the argument `sign`, builds and signs a
// repository there instead (sign-repository.mjs).
import { signRepository } from './sign-repository.mjs';
import { runTable } from './table.mjs';

const arg = globalThis.Deno ? globalThis.Deno.args[0] : globalThis.process.argv[2];
if (arg === 'sign') {
  console.log(JSON.stringify(await signRepository()));
} else {
  const { base, inputs } = JSON.parse(arg);
  console.log(JSON.stringify(await runTable(base, inputs)));
}
