// A Fastify app as people write it: nothing corefork-specific.
const fastify = require('fastify')({ logger: false });

fastify.get('/', async () => ({ pid: process.pid }));

fastify.listen({ port: +process.env.PORT || 3000, host: '0.0.0.0' }, (err, address) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`fastify listening on ${address}`);
});
