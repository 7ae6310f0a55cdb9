// The main thread's handle on the worker thread that lives in the target
// network namespace (see nsthread.ts).
import { Worker } from 'node:worker_threads';

type NsRequestBody =
  | { op: 'bind'; kind: 'tcp' | 'udp'; family: 4 | 6; addr: number[]; port: number }
  | { op: 'listening'; kind: 'tcp' | 'udp' };
export type NsRequest = NsRequestBody & { id: number };
export interface NsResponse {
  id: number;
  value: number;
  ports?: number[];
}

export class NsWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (r: NsResponse) => void>();
  private seq = 1;
  private readonly ready: Promise<void>;

  constructor(netnsPath: string) {
    this.worker = new Worker(new URL('./nsthread.js', import.meta.url), { workerData: { netns: netnsPath } });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('error', reject);
      this.pending.set(0, () => resolve());
    });
    this.worker.on('message', (r: NsResponse) => {
      const cb = this.pending.get(r.id);
      this.pending.delete(r.id);
      cb?.(r);
    });
  }

  private async ask(req: NsRequestBody): Promise<NsResponse> {
    await this.ready;
    const id = this.seq++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ ...req, id });
    });
  }

  /** A socket bound in the namespace: its fd, or -errno. */
  async bind(kind: 'tcp' | 'udp', family: 4 | 6, addr: Uint8Array, port: number): Promise<number> {
    return (await this.ask({ op: 'bind', kind, family, addr: [...addr], port })).value;
  }

  async listening(kind: 'tcp' | 'udp'): Promise<number[]> {
    return (await this.ask({ op: 'listening', kind })).ports ?? [];
  }

  close(): void {
    void this.worker.terminate();
  }
}
