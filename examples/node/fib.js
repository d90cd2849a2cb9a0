// The `fib` job, one process per run (the spawn-per-run alternative in
// corefork-jobs.yaml): computes fib(n) the slow (recursive) way and prints it. n comes from the command line (`node fib.js 25`), else
// from stdin (the body of POST /jobs/fib/runs: `25` or `{"n":25}`), else 30.
// Exit code 2 for a bad n. fib-pool.js is the same job as a pool worker.
'use strict';

const fs = require('fs');

const DEFAULT_N = 30;
const MAX_N = 45; // fib(45) already takes several seconds

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// The text that names n: argv[2], else stdin (unless it is a terminal).
function input() {
  if (process.argv.length > 2) return process.argv[2];
  if (process.stdin.isTTY) return '';
  try {
    return fs.readFileSync(0, 'utf8');
  } catch (err) {
    // No stdin at all (closed): same as empty.
    if (err.code === 'EBADF' || err.code === 'EAGAIN') return '';
    throw err;
  }
}

function parseN(text) {
  const trimmed = text.trim();
  if (trimmed === '') return DEFAULT_N;
  let value = trimmed;
  if (trimmed.startsWith('{')) {
    let parsed;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`bad JSON input: ${err.message}`);
    }
    value = parsed.n ?? DEFAULT_N;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > MAX_N) {
    throw new Error(`n must be an integer from 0 to ${MAX_N}, got ${JSON.stringify(value)}`);
  }
  return n;
}

// fib-pool.js (the same job as a pool worker) shares the parsing and fib.
module.exports = { fib, parseN };

if (require.main === module) {
  let n;
  try {
    n = parseN(input());
  } catch (err) {
    console.error(`fib.js: ${err.message}`);
    process.exit(2);
  }
  console.log(String(fib(n)));
}
