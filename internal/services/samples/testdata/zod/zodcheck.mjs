// zodcheck answers, for each JSON line {"proc": NAME, "raw": JSON_TEXT} on
// stdin ("raw" absent = undefined input), one JSON line with what the real
// zod schemas of the legacy stand-in (testbed/legacy/src/schemas.mjs) make
// of it under safeParseAsync, the way tRPC calls them:
//   {"ok":true,"data":"<JSON.stringify of the output>"}  (data null: undefined)
//   {"ok":false,"message":"<error.message: issues, JSON indent 2>"}
//   {"parseError":"<JSON.parse message>"}
// The raw text goes through JSON.parse here, as tRPC does with a request.
import { createInterface } from 'node:readline';

const { schemas } = await import(new URL('../../../../../testbed/legacy/src/schemas.mjs', import.meta.url));

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line === '') continue;
  const req = JSON.parse(line);
  let out;
  let input;
  try {
    input = req.raw === undefined ? undefined : JSON.parse(req.raw);
  } catch (err) {
    process.stdout.write(JSON.stringify({ parseError: err.message }) + '\n');
    continue;
  }
  const schema = schemas[req.proc];
  const r = await schema.safeParseAsync(input);
  if (r.success) {
    const data = JSON.stringify(r.data);
    out = { ok: true, data: data === undefined ? null : data };
  } else {
    out = { ok: false, message: r.error.message };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
