// zod-check reads JSON lines `{"procedure": "...", "input": ...}` on stdin and
// writes one JSON line per request: `{"ok":true,"data":...}` or
// `{"ok":false,"message":"...","issues":[...]}`, exactly as schemas.mjs's
// validate() returns them. A missing "input" key means undefined input.
// It lets non-Node tests (the Go validator comparison) ask zod itself.
import { createInterface } from 'node:readline';
import { validate } from './schemas.mjs';

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  let out;
  try {
    const req = JSON.parse(line);
    out = await validate(req.procedure, req.input);
  } catch (err) {
    out = { ok: false, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
