/**
 * The agent's lifecycle as explicit states, after Mender's client state machine (each state is entered once, does
 * its work, and names the state that comes next; a transition not in the table is a bug, not a branch):
 *
 *   starting ──► pairing ──► enrolled ──► closing ──► closed
 *       │                      ▲             ▲
 *       └──────────────────────┘   (any state before closing may go to closing)
 *
 * `starting` has already put the kiosk page up from what was last verified; `pairing` shows a code until a
 * technician claims it; `enrolled` runs the link, health, sync, commands and verification; `closing` stops them.
 */
import type { Logger } from 'pino';

export type AgentState = 'starting' | 'pairing' | 'enrolled' | 'closing' | 'closed';

const NEXT: Readonly<Record<AgentState, readonly AgentState[]>> = {
  starting: ['pairing', 'enrolled', 'closing'],
  pairing: ['enrolled', 'closing'],
  enrolled: ['closing'],
  closing: ['closed'],
  closed: [],
};

/** What a state does when entered; resolves with the next state, or null to stay (until closing is asked for). */
export type StateHandler = (signal: AbortSignal) => Promise<AgentState | null>;

export class Lifecycle {
  private current: AgentState = 'starting';
  private readonly waiters = new Map<AgentState, Array<() => void>>();
  private readonly abort = new AbortController();

  constructor(private readonly log: Logger) {}

  get state(): AgentState {
    return this.current;
  }

  /** Aborted when closing begins: long waits of any state (pairing polls) end with it. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get closing(): boolean {
    return this.current === 'closing' || this.current === 'closed';
  }

  /** Resolves when `state` is entered (at once if it is the current one); never if it is skipped. */
  reached(state: AgentState): Promise<void> {
    if (this.current === state) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(state) ?? [];
      list.push(resolve);
      this.waiters.set(state, list);
    });
  }

  /** Moves to `next`; throws on a transition the table does not allow. */
  enter(next: AgentState): void {
    if (!NEXT[this.current].includes(next)) throw new Error(`agent lifecycle: no transition ${this.current} → ${next}`);
    this.log.debug({ from: this.current, to: next }, 'agent state');
    this.current = next;
    if (next === 'closing') this.abort.abort(new Error('agent closing'));
    for (const resolve of this.waiters.get(next) ?? []) resolve();
    this.waiters.delete(next);
  }

  /**
   * Runs the handlers from the current state: each one's result is the next state. Stops when a handler stays
   * (null), when closing was asked for meanwhile, or at a state without a handler. A handler that throws ends the
   * run with its error (the caller decides: before the first state settles that is a start failure).
   */
  async run(handlers: Partial<Record<AgentState, StateHandler>>): Promise<void> {
    for (;;) {
      const handler = handlers[this.current];
      if (!handler || this.closing) return;
      const next = await handler(this.abort.signal);
      if (next === null || this.closing) return;
      this.enter(next);
    }
  }
}
