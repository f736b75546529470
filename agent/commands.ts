/**
 * Commands of DESIGN §8. Each id is recorded in the agent DB before it runs, so a command delivered twice (QoS 1
 * redelivery, a server retry, a restart in between) runs at most once. Results are kept until published.
 */
import { CommandMessage, type CommandResultMessage, type DeviceSettings } from '../protocol/index.js';
import type { AgentDb } from './agent-db.js';
import type { AgentClock } from './clock.js';

export interface CommandHandlers {
  sync_now: () => Promise<string>;
  reboot: () => Promise<string>;
  restart_agent: () => Promise<string>;
  set_config: (params: DeviceSettings) => Promise<string>;
  screenshot: () => Promise<string>;
}

/** Commands that end this process: their success is recorded before they run, or they would run again after it. */
const ENDS_PROCESS = new Set(['reboot', 'restart_agent']);

export class CommandRunner {
  constructor(
    private readonly db: AgentDb,
    private readonly handlers: CommandHandlers,
    private readonly publish: (id: string, result: CommandResultMessage) => Promise<void>,
    private readonly clock: () => number,
    /** The server-time estimate (agent/clock.ts) that expiry is judged on; default the wall clock. */
    private readonly time?: Pick<AgentClock, 'serverNow' | 'observeAtLeast' | 'synced'>,
  ) {}

  /** Handles one `commands` payload. Never throws: a bad command becomes a `failed` result when it has an id. */
  async handle(payload: Buffer): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    const parsed = CommandMessage.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown })?.id;
      if (typeof id === 'string' && (await this.rememberOrRefuse(id, 'invalid')) === 'new') {
        await this.finish(id, 'failed', `invalid command: ${parsed.error.message.slice(0, 500)}`);
      }
      return;
    }
    const cmd = parsed.data;
    const seen = await this.rememberOrRefuse(cmd.id, cmd.type);
    if (seen === 'refused') return;
    if (seen === 'seen') {
      // Seen before: do not run it again, but repeat its outcome in case the first report was lost.
      await this.repeatResult(cmd.id);
      return;
    }
    // Judged on the server's time, never the kiosk's wall clock (one hours ahead would refuse every command): the
    // server sends only commands not yet expired, and its issuedAt is a lower bound of its clock. Before the server's
    // time is known (no HTTP answer yet this run), the command's own issuedAt is the estimate.
    this.time?.observeAtLeast(cmd.issuedAt);
    const now = !this.time ? this.clock() : this.time.synced ? this.time.serverNow() : cmd.issuedAt;
    if (cmd.expiresAt < now) {
      await this.finish(cmd.id, 'failed', 'expired before it reached the device');
      return;
    }
    await this.finish(cmd.id, 'acked');
    try {
      if (ENDS_PROCESS.has(cmd.type)) {
        await this.finish(cmd.id, 'succeeded', `${cmd.type} started`);
      }
      let detail: string;
      switch (cmd.type) {
        case 'sync_now':
          detail = await this.handlers.sync_now();
          break;
        case 'reboot':
          detail = await this.handlers.reboot();
          break;
        case 'restart_agent':
          detail = await this.handlers.restart_agent();
          break;
        case 'set_config':
          detail = await this.handlers.set_config(cmd.params);
          break;
        case 'screenshot':
          detail = await this.handlers.screenshot();
          break;
        default: {
          const never: never = cmd;
          throw new Error(`unknown command ${JSON.stringify(never)}`);
        }
      }
      if (!ENDS_PROCESS.has(cmd.type)) await this.finish(cmd.id, 'succeeded', detail);
    } catch (err) {
      await this.finish(cmd.id, 'failed', (err as Error).message.slice(0, 4000));
    }
  }

  /** Publishes results the link could not carry when they happened. */
  async flushUnreported(): Promise<void> {
    const rows = this.db.prepare('SELECT id, state, detail FROM commands WHERE reported = 0 AND state != ?').all('new') as Array<{
      id: string;
      state: CommandResultMessage['state'];
      detail: string | null;
    }>;
    for (const row of rows) await this.report(row.id, row.state, row.detail ?? undefined);
  }

  private async repeatResult(id: string): Promise<void> {
    let row: { state: string; detail: string | null } | undefined;
    try {
      row = this.db.prepare('SELECT state, detail FROM commands WHERE id = ?').get(id) as typeof row;
    } catch {
      return;
    }
    if (row && (row.state === 'succeeded' || row.state === 'failed')) await this.report(id, row.state, row.detail ?? undefined);
  }

  /**
   * True the first time an id is seen. An id that cannot be recorded (the agent DB cannot be written) is refused:
   * running it unrecorded could run it twice.
   */
  private async rememberOrRefuse(id: string, type: string): Promise<'new' | 'seen' | 'refused'> {
    try {
      return this.remember(id, type) ? 'new' : 'seen';
    } catch (err) {
      await this.report(id, 'failed', `not run: the agent cannot record it (${(err as Error).message})`.slice(0, 4000));
      return 'refused';
    }
  }

  /** True the first time an id is seen. */
  private remember(id: string, type: string): boolean {
    return (
      this.db
        .prepare("INSERT OR IGNORE INTO commands (id, type, state, at, reported) VALUES (?, ?, 'new', ?, 1)")
        .run(id, type, this.clock()).changes === 1
    );
  }

  private async finish(id: string, state: CommandResultMessage['state'], detail?: string): Promise<void> {
    try {
      this.db.prepare('UPDATE commands SET state = ?, detail = ?, reported = 0 WHERE id = ?').run(state, detail ?? null, id);
    } catch {
      // the DB stopped taking writes after the id was recorded: the result still goes out now
    }
    await this.report(id, state, detail);
  }

  private async report(id: string, state: CommandResultMessage['state'], detail?: string): Promise<void> {
    try {
      await this.publish(id, detail === undefined ? { id, state } : { id, state, detail });
      this.db.prepare('UPDATE commands SET reported = 1 WHERE id = ? AND state = ?').run(id, state);
    } catch {
      // link down: flushUnreported sends the latest state on reconnect
    }
  }
}
