// Many-connections client for the benchmark's RSS metrics, run in the guest:
//   node conns.mjs HOST PORT COUNT idle|busy SECONDS
// Opens COUNT TCP connections at once and prints "connected N" when all are
// up; busy: every connection then writes as fast as it can and reads what the
// server sends. After SECONDS prints "done sent=B received=B", stops writing,
// and keeps the connections open until stdin closes (or 60 s more pass).
// It ends them with a reset: a close with data still queued somewhere on the
// path leaves orphaned sockets that hold their buffers for minutes after the
// fake host is gone, and enough of them (200 busy connections per helper)
// put the whole machine's TCP under memory pressure for the measurements
// after it.
import net from 'node:net';

const [host, port, count, mode, secs] = process.argv.slice(2);
const n = Number(count);
const CHUNK = Buffer.alloc(64 * 1024, 0xa5);
const socks = [];
let sent = 0;
let received = 0;
let writing = false;
let holding = false; // after "done": connections may close without error
let up = 0;

const quit = (code, msg) => {
  if (msg) process.stderr.write(`conns.mjs: ${msg}\n`);
  for (const s of socks) if (!s.destroyed) s.resetAndDestroy();
  process.exit(code);
};

function pump(s) {
  while (writing && !s.destroyed) {
    sent += CHUNK.length;
    if (!s.write(CHUNK)) break;
  }
}

function start() {
  clearTimeout(connectTimer);
  console.log(`connected ${up}`);
  writing = mode === 'busy';
  for (const s of socks) pump(s);
  setTimeout(() => {
    writing = false;
    holding = true;
    console.log(`done sent=${sent} received=${received}`);
  }, Number(secs) * 1000);
}

for (let i = 0; i < n; i++) {
  const s = net.connect({ host, port: Number(port) });
  socks.push(s);
  s.on('error', (e) => quit(1, `connection ${i}: ${e.message}`));
  s.on('data', (d) => (received += d.length));
  s.on('drain', () => pump(s));
  s.on('close', () => holding || quit(1, `connection ${i} closed early`));
  s.once('connect', () => {
    if (++up === n) start();
  });
}

const connectTimer = setTimeout(() => quit(1, `only ${up} of ${n} connections after 20 s`), 20_000);
process.stdin.on('end', () => quit(0));
process.stdin.resume();
setTimeout(() => quit(0), (Number(secs) + 60) * 1000);
