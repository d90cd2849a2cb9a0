// The fd-3 CONTROL of bench/dropin, not an unmodified app: app.js with one line
// changed, so that it serves corefork's inherited listening socket (fd 3,
// LISTEN_FDS=1) itself. Run with `corefork --compat-listen off`: no shim is
// loaded and nothing intercepts bind(). Comparing it with app.js under the shim
// shows what the shim costs per request (expected: nothing; it only acts in
// bind/listen/getsockname at start-up).
const express = require('express');
const app = express();
app.get('/', (q, r) => r.send('hello'));
app.listen({ fd: 3 });
