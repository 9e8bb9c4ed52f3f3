// The workerd side of workerd.test.ts: a module worker, bundled by esbuild with the workerd and
// worker conditions, that runs the client table posted to it and answers with the outcomes;
// at /sign it builds and signs a repository instead (sign-repository.mjs).
import { signRepository } from './sign-repository.mjs';
import { runTable } from './table.mjs';

export default {
  async fetch(request) {
    if (new URL(request.url).pathname === '/sign') return Response.json(await signRepository());
    const { base, inputs } = await request.json();
    return Response.json(await runTable(base, inputs));
  },
};
