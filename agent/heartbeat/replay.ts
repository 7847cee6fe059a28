/**
 * Replay protection: per sender, a sliding window of the last `window` sequence numbers.
 * A sequence seen before, or older than the window, is rejected. The sender map is bounded
 * (least recently used senders are forgotten first).
 */
export class ReplayWindow {
  private readonly window: number;
  private readonly maxSenders: number;
  private readonly senders = new Map<string, { max: number; seen: Set<number> }>();

  constructor(opts: { window?: number; maxSenders?: number } = {}) {
    this.window = opts.window ?? 1024;
    this.maxSenders = opts.maxSenders ?? 10_000;
  }

  accept(sender: string, seq: number): boolean {
    let st = this.senders.get(sender);
    if (st) this.senders.delete(sender);
    else {
      st = { max: -1, seen: new Set() };
      if (this.senders.size >= this.maxSenders) {
        const oldest = this.senders.keys().next().value;
        if (oldest !== undefined) this.senders.delete(oldest);
      }
    }
    this.senders.set(sender, st);
    if (seq <= st.max - this.window || st.seen.has(seq)) return false;
    st.seen.add(seq);
    if (seq > st.max) {
      st.max = seq;
      for (const s of st.seen) if (s <= st.max - this.window) st.seen.delete(s);
    }
    return true;
  }

  get size(): number {
    return this.senders.size;
  }
}
