/**
 * aedes 1.x alone on a loopback port (in-memory, no auth, no storage): the broker half of our server, for
 * the broker-vs-Mosquitto comparison. Usage: node --import tsx bench/lib/aedes-alone.ts PORT
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => {
  broker.close(() => server.close(() => process.exit(0)));
});
