// An Express app with prom-client as its README shows it: it counts its own
// requests and serves /metrics on its own port. Nothing corefork-specific:
// under a plain prefork launcher a scrape of /metrics would reach a random
// worker; corefork merges every worker's answer (metrics.app).
const express = require('express');
const client = require('prom-client');

const requests = new client.Counter({
  name: 'app_requests_total',
  help: 'Requests served by this process',
  labelNames: ['route'],
});
client.collectDefaultMetrics();

const app = express();
app.get('/', (req, res) => {
  requests.inc({ route: '/' });
  res.json({ pid: process.pid });
});
app.get('/healthz', (req, res) => res.send('ok'));
// A bug that hangs the event loop: the process stays alive, its socket
// stays open, and it answers nothing any more.
app.get('/hang', () => {
  for (;;) {}
});
app.get('/metrics', async (req, res) => {
  res.set('Content-Type', client.register.contentType);
  res.end(await client.register.metrics());
});

app.listen(process.env.PORT || 3000);
