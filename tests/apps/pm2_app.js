// A PM2-style app (wait_ready + shutdown_with_message): it says
// process.send('ready') once it is warmed up, and closes on the message
// 'shutdown'. It runs unchanged under PM2. EVENT_LOG (optional) records what
// it saw, so a test can tell a 'shutdown' message from a signal.
// WARMUP_FILE (optional) stands for a slow start-up: the app listens at once
// but says ready only once that file exists.
const fs = require('fs');
const http = require('http');

function record(event) {
  if (process.env.EVENT_LOG) fs.appendFileSync(process.env.EVENT_LOG, `${process.pid} ${event}\n`);
}

const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ pid: process.pid }));
});

function warmedUp(callback) {
  const file = process.env.WARMUP_FILE;
  if (!file || fs.existsSync(file)) return callback();
  setTimeout(() => warmedUp(callback), 50);
}

server.listen(process.env.PORT || 3000, () => {
  record('listening');
  warmedUp(() => {
    if (process.send) process.send('ready');
    record('ready');
  });
});

process.on('message', (msg) => {
  record(`message ${JSON.stringify(msg)}`);
  if (msg === 'shutdown') {
    server.close(() => {
      record('exit 0');
      process.exit(0);
    });
    // Keep-alive connections must not hold the exit up.
    server.closeIdleConnections();
  }
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    record(`signal ${sig}`);
    server.close(() => process.exit(0));
  });
}
