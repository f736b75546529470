/** Idle detection: no touch, key or pointer for `timeoutMs`, and no media playing, means nobody is there. */
export class IdleTimer {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly events = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'] as const;
  private readonly onActivity = () => this.reset();

  constructor(
    private readonly doc: Document,
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
  ) {}

  start(): void {
    for (const e of this.events) this.doc.addEventListener(e, this.onActivity, { capture: true, passive: true });
    this.reset();
  }

  stop(): void {
    for (const e of this.events) this.doc.removeEventListener(e, this.onActivity, { capture: true });
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  reset(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.timeoutMs);
  }

  private fire(): void {
    // Someone watching a video or listening does not touch the screen: playing media counts as presence.
    const playing = [...this.doc.querySelectorAll('video, audio')].some((m) => !(m as HTMLMediaElement).paused);
    if (playing) {
      this.reset();
      return;
    }
    this.timer = null;
    this.onIdle();
  }
}

/** `?idle=SECONDS` shortens the timeout (tests, demonstrations); default 90 s. */
export function idleTimeoutMs(search: string, fallbackS = 90): number {
  const raw = new URLSearchParams(search).get('idle');
  const seconds = raw === null ? Number.NaN : Number(raw);
  return Number.isFinite(seconds) && seconds > 0 && seconds <= 3600 ? seconds * 1000 : fallbackS * 1000;
}
