// Runs in a worker thread that has entered the target network namespace
// (network namespace membership is per thread; the main thread never leaves
// the host's). It opens bound sockets there for the main thread, which drives
// them by descriptor, and reports which ports are listening there.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CLONE_NEWNET, bindSocket, setns } from './sys.js';
import { listeningPorts } from './procnet.js';
import type { NsRequest, NsResponse } from './nsworker.js';

const port = parentPort!;
const fd = fs.openSync(workerData.netns as string, 'r');
const rc = setns(fd, CLONE_NEWNET);
fs.closeSync(fd);
if (rc !== 0) throw new Error(`cannot enter network namespace ${workerData.netns}`);

port.on('message', (req: NsRequest) => {
  let res: NsResponse;
  if (req.op === 'bind') {
    res = { id: req.id, value: bindSocket(req.kind, req.family, Uint8Array.from(req.addr), req.port) };
  } else {
    res = { id: req.id, value: 0, ports: listeningPorts(req.kind, '/proc/thread-self/net') };
  }
  port.postMessage(res);
});
port.postMessage({ id: 0, value: 0 });
