// A corefork pool worker in Node (docs/jobs.md, "Pools (protocol)"): one
// request per line on stdin, {"id":N,"input":...}; one answer per line on
// stdout, {"id":N,"output":...} or {"id":N,"error":"..."}. Put your work in
// handle(). stdout is the protocol: log with console.error, not console.log.
'use strict';
const readline = require('node:readline');

// input: the request body as a string, or its parsed JSON. May be async.
function handle(input) {
  const n = Number(typeof input === 'object' && input !== null ? input.n : input);
  if (!Number.isInteger(n) || n < 0 || n > 45) throw new Error(`bad n: ${JSON.stringify(input)}`);
  const fib = (k) => (k < 2 ? k : fib(k - 1) + fib(k - 2));
  return fib(n);
}

(async () => {
  // One request at a time, answered in order.
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const { id, input } = JSON.parse(line);
    let answer;
    try {
      // ?? null: an undefined output would drop the key, a malformed answer.
      answer = JSON.stringify({ id, output: (await handle(input)) ?? null });
    } catch (err) {
      answer = JSON.stringify({ id, error: String(err?.message ?? err) });
    }
    // Writes to a pipe are synchronous on Linux: the answer is out, flushed.
    process.stdout.write(answer + '\n');
  }
})();
