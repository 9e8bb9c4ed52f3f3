// The workerd side of workerd.test.ts: a module worker, bundled by esbuild with the workerd and
// worker conditions, that runs the client table posted to it and answers with the outcomes.
import { runTable } from './table.mjs';

export default {
  async fetch(request) {
    const { base, inputs } = await request.json();
    return Response.json(await runTable(base, inputs));
  },
};
