/**
 * Issue 15 part B: compact summaries instead of whole snapshots, cross-node checks on each agent
 * over its peers' presence records, details on demand.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { presenceRecord, summaryMessage } from '../../../agent/publish/messages.js';
import { LocalCrossChecker } from '../../../shared/crosschecks/local.js';
import type { Finding, NodePresence, NodeSnapshot } from '../../../shared/schema.js';
import { encodeSnapshotReply, parseSnapshotReply } from '../../../shared/snapshot-reply.js';
import { summarize } from '../../../shared/summary.js';
import { checkPresence, checkSummaryMessage } from '../../../shared/validation.js';

const DIR = new URL('../../fixtures/checks/lab/', import.meta.url);
const NODES = ['n1', 'n2', 'n3', 'n4'];
const load = (scenario: string, node: string): NodeSnapshot =>
  JSON.parse(readFileSync(new URL(`${scenario}/${node}.json`, DIR), 'utf8')) as NodeSnapshot;
const presenceOf = (s: NodeSnapshot, at = 0): NodePresence =>
  presenceRecord({ node: s.node, labels: s.labels, version: 't', at }, s, {
    probePort: 7999,
    overlayEndpoints: [],
  });

/** A node of a cluster of `peers` others: its flannel FDB and neighbor tables hold every peer. */
function bigNode(base: NodeSnapshot, peers: number): NodeSnapshot {
  const s = structuredClone(base);
  const ns = s.namespaces.find((n) => n.fdb.some((e) => e.dev === 'flannel.1')) ?? s.namespaces[0]!;
  const addr = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  const mac = (i: number) =>
    `02:42:${[i >> 16, (i >> 8) & 255, i & 255, 1].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  for (let i = 0; i < peers; i++) {
    ns.fdb.push({
      mac: mac(i),
      dev: 'flannel.1',
      dst: addr(i),
      master: null,
      state: 'permanent',
      flags: ['self'],
      vni: null,
    });
    ns.neighbors.push({
      dst: `10.244.${i % 250}.${i >> 8}`,
      dev: 'flannel.1',
      lladdr: mac(i),
      state: ['PERMANENT'],
    });
    ns.routes.push({
      dst: `10.244.${i % 250}.0/24`,
      dev: 'flannel.1',
      gateway: `10.244.${i % 250}.0`,
      prefsrc: null,
      flags: ['onlink'],
      mtu: null,
      table: 'main',
    });
  }
  const v = s.vteps.find((x) => x.dev === 'flannel.1');
  if (v) v.fdbDsts = [...v.fdbDsts, ...Array.from({ length: peers }, (_, i) => addr(i))];
  return s;
}

describe('summary: O(the node), not O(the cluster)', () => {
  it('is the same size at 100 and 1,000 peers while the whole snapshot grows ~10x; it validates', () => {
    const base = load('healthy', 'n1');
    const size = (x: unknown) => Buffer.byteLength(JSON.stringify(x));
    const s100 = bigNode(base, 100);
    const s1000 = bigNode(base, 1000);
    const m100 = summaryMessage({ node: 'n1' }, s100);
    const m1000 = summaryMessage({ node: 'n1' }, s1000);
    assert.ok(checkSummaryMessage.check(m1000), checkSummaryMessage.firstError(m1000));
    assert.ok(size(s1000) > 8 * size(s100) * 0.9, `snapshot ${size(s100)} -> ${size(s1000)}`);
    // Only the count digits differ.
    assert.ok(Math.abs(size(m1000) - size(m100)) < 64, `summary ${size(m100)} -> ${size(m1000)}`);
    assert.ok(size(m1000) < size(s1000) / 20);
    const fdb = m1000.summary.namespaces.flatMap((n) => [n.tables.fdb.count]).reduce((a, b) => a + b, 0);
    assert.ok(fdb >= 1000, 'the FDB count says how many entries the node has');
    assert.equal(
      m1000.summary.vteps.find((v) => v.dev === 'flannel.1')?.fdb.count,
      base.vteps.find((v) => v.dev === 'flannel.1')!.fdbDsts.length + 1000,
    );
    const p = presenceOf(s1000);
    assert.ok(checkPresence.check(p), checkPresence.firstError(p));
    assert.ok(size(p) < 2048, `presence ${size(p)} bytes`);
  });

  it('digest: same inventory, same digest (times and NUD aging ignored); an FDB change changes it', () => {
    const a = load('healthy', 'n1');
    const b = structuredClone(a);
    b.takenAt = new Date(0).toISOString();
    b.durationMs = 999;
    for (const ns of b.namespaces)
      for (const n of ns.neighbors) if (n.state.includes('REACHABLE')) n.state = ['STALE'];
    assert.equal(summarize(a).digest, summarize(b).digest);
    const c = structuredClone(a);
    const fdb = c.namespaces.find((n) => n.fdb.length)!.fdb[0]!;
    fdb.dst = '10.9.9.9';
    const [sa, sc] = [summarize(a), summarize(c)];
    assert.notEqual(sa.digest, sc.digest);
    const changed = sa.namespaces.filter(
      (n, i) => n.tables.fdb.digest !== sc.namespaces[i]!.tables.fdb.digest,
    );
    assert.equal(changed.length, 1, 'exactly the namespace whose FDB changed has a new FDB digest');
  });
});

describe('cross-node checks on the agent, over presence', () => {
  const problems = (f: Finding[]) =>
    f.filter((x) => x.status === 'problem').map((x) => `${x.node}:${x.kind}`);
  const SETTLE = 20_000;

  it('a cluster starting (peers reporting over time) gives no fdb-wrong-destination, on any node', () => {
    const snaps = NODES.map((n) => load('healthy', n));
    // Peers report in this order, 0 to 18 s after the bucket was first read.
    const arrives: Record<string, number> = { n1: 0, n2: 6_000, n3: 12_000, n4: 18_000 };
    for (const self of snaps) {
      const c = new LocalCrossChecker({ settleMs: SETTLE });
      let sawUnknown = false;
      for (let t = 0; t <= 60_000; t += 2_000) {
        const peers = snaps
          .filter((s) => s.node !== self.node && arrives[s.node]! <= t)
          .map((s) => presenceOf(s, t));
        const r = c.run({ self, peers, synced: t >= 1_000, now: 1e12 + t });
        assert.deepEqual(problems(r.findings), [], `${self.node} at ${t} ms`);
        sawUnknown ||= r.findings.some((f) => f.check === 'fdb-unowned' && f.status === 'unknown');
        assert.ok(r.checkRuns.every((x) => x.ok));
      }
      if (self.node !== 'n4')
        assert.ok(sawUnknown, `${self.node}: waiting peers are an unknown, said as such`);
    }
  });

  it('the NAT-address FDB (incident 7) is found once the identities are complete and it stayed unowned', () => {
    const snaps = NODES.map((n) => load('fdb-nat', n));
    const c = new LocalCrossChecker({ settleMs: SETTLE });
    const self = snaps[0]!;
    const peers = snaps.slice(1).map((s) => presenceOf(s));
    const at = (t: number, synced = true) => c.run({ self, peers, synced, now: 1e12 + t }).findings;
    assert.deepEqual(problems(at(0, false)), [], 'not before the bucket was read');
    assert.deepEqual(problems(at(1_000)), []);
    const waiting = at(10_000).find((f) => f.check === 'fdb-unowned');
    assert.equal(waiting?.status, 'unknown');
    assert.match(waiting?.summary ?? '', /10\.0\.2\.15.*no node has claimed yet/);
    const f = at(1_000 + SETTLE);
    assert.deepEqual(problems(f), ['n1:fdb-wrong-destination']);
    assert.match(f.find((x) => x.status === 'problem')?.summary ?? '', /10\.0\.2\.15, which no node owns/);
    // The other nodes' own tables are fine: they say nothing.
    for (const other of snaps.slice(1)) {
      const o = new LocalCrossChecker({ settleMs: SETTLE });
      const ps = snaps.filter((s) => s !== other).map((s) => presenceOf(s));
      o.run({ self: other, peers: ps, synced: true, now: 1e12 });
      assert.deepEqual(
        problems(o.run({ self: other, peers: ps, synced: true, now: 1e12 + 60_000 }).findings),
        [],
      );
    }
  });

  it('a peer whose presence expired still owns its address (its agent is down, the FDB is right)', () => {
    const snaps = NODES.map((n) => load('healthy', n));
    const c = new LocalCrossChecker({ settleMs: SETTLE, forgetMs: 600_000 });
    const all = snaps.slice(1).map((s) => presenceOf(s));
    c.run({ self: snaps[0]!, peers: all, synced: true, now: 1e12 });
    const later = c.run({ self: snaps[0]!, peers: all.slice(0, 2), synced: true, now: 1e12 + 120_000 });
    assert.deepEqual(problems(later.findings), []);
    // Gone for longer than forgetMs, and still in the FDB: now it is a destination nobody owns.
    c.run({ self: snaps[0]!, peers: all.slice(0, 2), synced: true, now: 1e12 + 700_000 });
    const much = c.run({
      self: snaps[0]!,
      peers: all.slice(0, 2),
      synced: true,
      now: 1e12 + 700_000 + SETTLE,
    });
    // Both of n1's VTEPs (flannel.1 and the Docker one) point at n4.
    assert.deepEqual(problems(much.findings), ['n1:fdb-wrong-destination', 'n1:fdb-wrong-destination']);
  });

  it('duplicate VTEP address (all nodes registered 10.0.2.15) and VNI mismatch: each node about itself', () => {
    const dup = NODES.map((n) => load('dup-vtep', n));
    for (const self of dup) {
      const r = new LocalCrossChecker({ settleMs: SETTLE }).run({
        self,
        peers: dup.filter((s) => s !== self).map((s) => presenceOf(s)),
        synced: true,
        now: 1e12,
      });
      assert.ok(problems(r.findings).includes(`${self.node}:duplicate-vtep-address`), self.node);
      assert.ok(r.findings.every((f) => f.node === self.node));
    }
    const vni = NODES.map((n) => load('vni-mismatch', n));
    const got = vni.flatMap((self) =>
      problems(
        new LocalCrossChecker({ settleMs: SETTLE }).run({
          self,
          peers: vni.filter((s) => s !== self).map((s) => presenceOf(s)),
          synced: true,
          now: 1e12,
        }).findings,
      ),
    );
    assert.deepEqual(got, ['n4:vni-mismatch']);
  });
});

describe('details on demand: the snapshot reply', () => {
  it("round-trips gzip'd; too large for max_payload is a clear error; a reply for another node is refused", () => {
    const s = bigNode(load('healthy', 'n2'), 1000);
    const z = encodeSnapshotReply({ node: 'n2', snapshot: s }, 1024 * 1024);
    assert.ok(z.byteLength < Buffer.byteLength(JSON.stringify(s)) / 3, `compressed ${z.byteLength}`);
    assert.deepEqual(parseSnapshotReply('n2', z), s);
    const tiny = encodeSnapshotReply({ node: 'n2', snapshot: s }, 1000);
    assert.throws(
      () => parseSnapshotReply('n2', tiny),
      /agent n2: snapshot is \d+ bytes compressed, over the NATS server's max_payload of 1000/,
    );
    assert.throws(() => parseSnapshotReply('n3', z), /snapshot reply of n2 on the subject of n3/);
    assert.throws(() => parseSnapshotReply('n2', new Uint8Array([1, 2, 3])), /unreadable snapshot reply/);
  });
});
