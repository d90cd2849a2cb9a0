// The `fib` job of corefork-jobs.yaml as a pool worker: corefork keeps a few
// of these running and hands each run over as one JSON line on stdin,
// {"id":N,"input":...}; the answer is one line on stdout, {"id":N,"output":
// "832040\n"} or {"id":N,"error":"..."} (docs/jobs.md, "Pools (protocol)").
// The output is exactly what `node fib.js` prints for the same input, so a
// run's stdout, and the /child route, are the same with or without the pool.
// stdout is the protocol: log with console.error, never console.log.
'use strict';

const readline = require('node:readline');
const { fib, parseN } = require('./fib.js');

// input: the request body as a string, or its parsed JSON (`25` arrives as
// the number 25, `{"n":25}` as an object). Throws for a bad n.
function handle(input) {
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  return `${fib(parseN(text))}\n`;
}

(async () => {
  // One request at a time, answered in order; the loop ends (and the process
  // exits) when corefork closes stdin to retire this process.
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const { id, input } = JSON.parse(line);
    let answer;
    try {
      answer = JSON.stringify({ id, output: handle(input) });
    } catch (err) {
      answer = JSON.stringify({ id, error: err.message });
    }
    // Writes to a pipe are synchronous on Linux: the answer is out, flushed.
    process.stdout.write(`${answer}\n`);
  }
})();
