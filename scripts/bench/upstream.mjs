// "Internet" servers for the benchmark, run in netns "up" of the fake host:
//   node upstream.mjs ADDR SECONDS
// :8080 HTTP, one short response per request (for wrk, connections per second)
// :9000 idle: accepts and reads, never writes
// :9001 busy: reads everything and writes as fast as each connection takes it
// Exits by itself after SECONDS.
import http from 'node:http';
import net from 'node:net';

const [addr = '203.0.113.5', secs = '120'] = process.argv.slice(2);
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

http.createServer((_q, r) => r.end('ok\n')).listen(8080, addr);

net
  .createServer((s) => {
    s.on('error', () => {});
    s.resume();
  })
  .listen(9000, addr);

net
  .createServer((s) => {
    s.on('error', () => {});
    s.resume();
    const pump = () => {
      while (!s.destroyed && s.write(CHUNK));
    };
    s.on('drain', pump);
    pump();
  })
  .listen(9001, addr);

setTimeout(() => process.exit(0), Number(secs) * 1000);
