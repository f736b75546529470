/**
 * Idle detection: no touch, key or pointer for `timeoutMs`, and no media playing, means nobody is there.
 * Touches inside a web bundle's sandboxed frame never reach this document: the agent puts a small script into each
 * bundle it serves (agent/local-server.ts) that posts `{ kioskActivity: 1 }` to the page; such a message from one of
 * the page's own frames counts as activity too.
 */
export class IdleTimer {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastActivity = performance.now();
  private readonly events = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'] as const;
  private readonly onActivity = () => this.reset();
  private readonly onMessage = (e: MessageEvent) => {
    if (!isActivityMessage(e.data)) return;
    const frames = [...this.doc.querySelectorAll('iframe')];
    if (e.source && frames.some((f) => f.contentWindow === e.source)) this.reset();
  };

  constructor(
    private readonly doc: Document,
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
  ) {}

  start(): void {
    for (const e of this.events) this.doc.addEventListener(e, this.onActivity, { capture: true, passive: true });
    this.doc.defaultView?.addEventListener('message', this.onMessage);
    this.reset();
  }

  stop(): void {
    for (const e of this.events) this.doc.removeEventListener(e, this.onActivity, { capture: true });
    this.doc.defaultView?.removeEventListener('message', this.onMessage);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  reset(): void {
    this.lastActivity = performance.now();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.timeoutMs);
  }

  /** True once nobody touched anything for the timeout and no media plays. */
  isIdle(): boolean {
    return performance.now() - this.lastActivity >= this.timeoutMs && !this.mediaPlaying();
  }

  private mediaPlaying(): boolean {
    return [...this.doc.querySelectorAll('video, audio')].some((m) => !(m as HTMLMediaElement).paused);
  }

  private fire(): void {
    // Someone watching a video or listening does not touch the screen: playing media counts as presence.
    if (this.mediaPlaying()) {
      this.reset();
      return;
    }
    this.timer = null;
    this.onIdle();
  }
}

export function isActivityMessage(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as { kioskActivity?: unknown }).kioskActivity === 1;
}

/** `?idle=SECONDS` shortens the timeout (tests, demonstrations); default 90 s. */
export function idleTimeoutMs(search: string, fallbackS = 90): number {
  const raw = new URLSearchParams(search).get('idle');
  const seconds = raw === null ? Number.NaN : Number(raw);
  return Number.isFinite(seconds) && seconds > 0 && seconds <= 3600 ? seconds * 1000 : fallbackS * 1000;
}
