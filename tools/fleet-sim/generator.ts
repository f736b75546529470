/**
 * Drives several load-generator worker processes (worker.ts) as one: splits the device ids between them,
 * sends every command to all and gathers the replies. Each worker is a child process with IPC, so its CPU
 * is measurable and its event loop is its own.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

type Reply<C extends WorkerReply['cmd']> = Extract<WorkerReply, { cmd: C }>;

export class Generator {
  private constructor(private readonly workers: ChildProcess[]) {}

  static start(count: number): Generator {
    const entry = fileURLToPath(new URL('./worker.ts', import.meta.url));
    const workers = Array.from({ length: count }, () =>
      fork(entry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    return new Generator(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  private ask(worker: ChildProcess, req: WorkerRequest, timeoutMs: number): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        reject(new Error(`generator worker did not answer ${req.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (reply: WorkerReply) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        if (reply.cmd === 'error') reject(new Error(`generator worker: ${reply.message}`));
        else resolve(reply);
      };
      worker.on('message', onMessage);
      worker.send(req);
    });
  }

  /** Sends `req` (or what `perWorker` builds for each worker) to every worker; resolves with their replies. */
  async all<C extends WorkerRequest['cmd']>(
    req: Extract<WorkerRequest, { cmd: C }> | ((index: number) => Extract<WorkerRequest, { cmd: C }>),
    timeoutMs = 120_000,
  ): Promise<Reply<C extends WorkerReply['cmd'] ? C : never>[]> {
    const replies = await Promise.all(
      this.workers.map((w, i) => this.ask(w, typeof req === 'function' ? req(i) : req, timeoutMs)),
    );
    return replies as Reply<C extends WorkerReply['cmd'] ? C : never>[];
  }

  /** Splits ids evenly: worker i gets every `size`-th id starting at i. */
  slice(ids: string[], index: number): string[] {
    return ids.filter((_, k) => k % this.workers.length === index);
  }

  /** CPU time (ms) all workers used so far, from their last replies. */
  static cpuMs(replies: Array<{ cpuMs: number }>): number {
    return replies.reduce((n, r) => n + r.cpuMs, 0);
  }

  async stop(): Promise<void> {
    await this.all({ cmd: 'stop' }, 60_000).catch(() => []);
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            w.once('exit', () => resolve());
            w.disconnect();
            setTimeout(() => w.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}
