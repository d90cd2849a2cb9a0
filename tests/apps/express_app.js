// An Express app as people write it: nothing corefork-specific.
const express = require('express');

const app = express();
app.get('/', (req, res) => res.json({ pid: process.pid }));

const port = process.env.PORT || 3000;
app.listen(port, () => console.log(`express listening on ${port}`));
