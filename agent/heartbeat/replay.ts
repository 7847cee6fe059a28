/**
 * Replay protection: per sender, a sliding window of the last `window` sequence numbers.
 * A sequence seen before, or older than the window, is rejected. The sender map is bounded
 * (least recently used senders are forgotten first).
 *
 * A sender that restarts begins again at sequence 1, far below the window. Its packets carry a
 * send time covered by the HMAC, so a stale or already-seen sequence with a send time newer than
 * any seen from that sender is a restart (the window starts over), while a replayed packet
 * always carries a send time already seen, and stays rejected; after a restart, nothing sent
 * before it (up to the old run's newest send time) is accepted again.
 */
export class ReplayWindow {
  private readonly window: number;
  private readonly maxSenders: number;
  private readonly senders = new Map<
    string,
    { max: number; maxSentAt: number; floor: number; seen: Set<number> }
  >();

  constructor(opts: { window?: number; maxSenders?: number } = {}) {
    this.window = opts.window ?? 1024;
    this.maxSenders = opts.maxSenders ?? 10_000;
  }

  /** `sentAt`: the packet's authenticated send time (epoch ms); without it no restart is noticed. */
  accept(sender: string, seq: number, sentAt = -Infinity): boolean {
    let st = this.senders.get(sender);
    if (st) this.senders.delete(sender);
    else {
      st = { max: -1, maxSentAt: -Infinity, floor: -Infinity, seen: new Set() };
      if (this.senders.size >= this.maxSenders) {
        const oldest = this.senders.keys().next().value;
        if (oldest !== undefined) this.senders.delete(oldest);
      }
    }
    this.senders.set(sender, st);
    if (st.floor !== -Infinity && sentAt <= st.floor) return false;
    if (seq <= st.max - this.window || st.seen.has(seq)) {
      if (!(sentAt > st.maxSentAt)) return false;
      st.floor = st.maxSentAt; // the sender restarted
      st.max = -1;
      st.seen.clear();
    }
    if (sentAt > st.maxSentAt) st.maxSentAt = sentAt;
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
