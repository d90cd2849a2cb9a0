// A Koa app as people write it: nothing corefork-specific.
const Koa = require('koa');

const app = new Koa();
app.use(async (ctx) => {
  ctx.body = { pid: process.pid };
});

app.listen(process.env.PORT || 3000);
