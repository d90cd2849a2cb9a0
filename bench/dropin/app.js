// The unmodified app of bench/dropin: Express hello world, as people write it.
// Nothing corefork-specific: it binds $PORT itself (under corefork the listen
// shim hands it corefork's per-worker socket; under cluster.js and PM2 the
// cluster module shares the primary's socket). Do not edit for the bench.
const express = require('express');
const app = express();
app.get('/', (q, r) => r.send('hello'));
app.listen(process.env.PORT || 3000);
