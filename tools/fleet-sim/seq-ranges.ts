/**
 * A set of sequence numbers kept as sorted, merged [from, to] ranges: a device's acknowledged seqs are almost
 * always one range, so 10 000 devices' worth fits in a few kilobytes and crosses a process boundary as JSON.
 */
export type Range = [number, number];

export class SeqRanges {
  private ranges: Range[] = [];

  static from(ranges: Range[]): SeqRanges {
    const set = new SeqRanges();
    for (const [a, b] of ranges) for (let s = a; s <= b; s++) set.add(s);
    return set;
  }

  add(seq: number): void {
    const r = this.ranges;
    const last = r.at(-1);
    // Fast path: acknowledgements arrive in order.
    if (last && seq === last[1] + 1) {
      last[1] = seq;
      return;
    }
    if (last && seq > last[1] + 1) {
      r.push([seq, seq]);
      return;
    }
    let i = 0;
    while (i < r.length && (r[i] as Range)[1] < seq - 1) i++;
    const at = r[i];
    if (!at || seq < at[0] - 1) {
      r.splice(i, 0, [seq, seq]);
      return;
    }
    if (seq >= at[0] && seq <= at[1]) return;
    if (seq === at[0] - 1) at[0] = seq;
    else at[1] = seq;
    const next = r[i + 1];
    if (next && next[0] <= at[1] + 1) {
      at[1] = Math.max(at[1], next[1]);
      r.splice(i + 1, 1);
    }
  }

  has(seq: number): boolean {
    return this.ranges.some(([a, b]) => seq >= a && seq <= b);
  }

  get size(): number {
    return this.ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  }

  toJSON(): Range[] {
    return this.ranges.map(([a, b]) => [a, b]);
  }

  *values(): Generator<number> {
    for (const [a, b] of this.ranges) for (let s = a; s <= b; s++) yield s;
  }
}
