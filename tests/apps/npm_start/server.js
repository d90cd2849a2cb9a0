// Started as `npm start`: npm runs `sh -c "node server.js"`, so the app is
// two wrappers below whatever started npm. Express resolves from
// tests/apps/node_modules (Node looks in the parent directories).
const express = require('express');

const app = express();
app.get('/', (req, res) => res.json({ pid: process.pid }));

app.listen(process.env.PORT || 3000);
