/**
 * The scale benchmark's simulator (bench/collector-sim.ts): what it publishes passes the
 * collector's own validation (it cannot drift from the schema unnoticed), its accounting counts
 * only acknowledged bytes, and its segment fault, fed through the real state and rules with a
 * rotating probe set (more nodes than a full mesh), is named on the right segment within a few
 * rounds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PROBESET, selectTargets } from '../../../agent/heartbeat/probeset.js';
import {
  arrivalsOf,
  clusterOf,
  PublishedCounter,
  presenceOf,
  roundResults,
  type SegmentFault,
  type SimNode,
  snapshotOf,
} from '../../../bench/collector-sim.js';
import { summaryMessage } from '../../../agent/publish/messages.js';
import { Diagnoser } from '../../../collector/diagnosis/index.js';
import { validateMessage } from '../../../collector/ingest/index.js';
import { ClusterState } from '../../../collector/state/index.js';
import { SCHEMA_VERSION, type ProbesMessage } from '../../../shared/schema.js';
import { subjectFor } from '../../../shared/subjects.js';

const enc = new TextEncoder();
const T0 = Date.parse('2026-12-01T10:00:00.000Z');

function probesMsg(
  src: SimNode,
  all: SimNode[],
  slot: number,
  at: number,
  fault: SegmentFault | null,
): ProbesMessage {
  const peers = all.map((n) => ({ name: n.name, group: n.group }));
  const by = new Map(all.map((n) => [n.name, n]));
  const targetsOf = (n: SimNode) =>
    selectTargets({ name: n.name, group: n.group }, peers, slot, DEFAULT_PROBESET).map(
      (x) => by.get(x) as SimNode,
    );
  const from = all.filter((n) => n !== src && targetsOf(n).includes(src));
  return {
    schemaVersion: SCHEMA_VERSION,
    type: 'probes',
    node: src.name,
    at: at + 400,
    id: `${src.name}-${slot}`,
    round: slot,
    results: roundResults(src, targetsOf(src), slot, at, fault),
    arrivals: arrivalsOf(src, from, at, fault),
  };
}

describe('collector scale simulator', () => {
  it('publishes messages the collector accepts (probes; the summary of an inventory with per-peer tables)', () => {
    const all = clusterOf(70, 3, 'zq');
    const n = all[5] as SimNode;
    const p = probesMsg(n, all, 11, T0, { a: all[0]!.group, b: all[1]!.group });
    const r = validateMessage(subjectFor(n.name, 'probes'), enc.encode(JSON.stringify(p)), {
      now: T0 + 1000,
    });
    assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`);
    const snap = snapshotOf(n, all, T0);
    assert.equal(snap.namespaces[0]?.fdb.length, 69, 'one FDB entry per peer VTEP');
    const summary = summaryMessage({ node: n.name, at: T0, id: 'x1' }, snap);
    const s = validateMessage(subjectFor(n.name, 'summary'), enc.encode(JSON.stringify(summary)), {
      now: T0 + 1000,
    });
    assert.ok(s.ok, s.ok ? '' : `${s.reason}: ${s.detail}`);
    const pr = presenceOf(n, T0, snap);
    assert.deepEqual(pr.underlay, [n.underlay]);
    assert.equal(pr.vteps[0]?.mac, n.vtepMac);
  });

  it('fails exactly the VXLAN-port probes across the faulted segment', () => {
    const all = clusterOf(9, 3, 'ab');
    const [g0, g1] = [all[0]!.group, all[1]!.group];
    const f = { a: g0, b: g1 };
    const rs = roundResults(all[0]!, all.slice(1), 1, T0, f);
    const group = new Map(all.map((x) => [x.name, x.group]));
    for (const r of rs) {
      const across = group.get(r.dst) === g1;
      const vx = r.path !== 'control';
      assert.equal(r.answered, !(across && vx), `${r.path} to ${r.dst}`);
    }
  });

  it('counts only acknowledged bytes', async () => {
    const c = new PublishedCounter();
    let up = true;
    const p = c.wrap({
      connected: () => true,
      publish: async () => {
        if (!up) throw new Error('no ack');
      },
    });
    await p.publish('probes', 'a', new Uint8Array(100));
    up = false;
    await assert.rejects(p.publish('probes', 'b', new Uint8Array(50)));
    assert.deepEqual([c.bytes.probes, c.messages.probes, c.failures], [100, 1, 1]);
  });

  it('the injected segment fault is named on its segment within three rounds (rotating probe set)', () => {
    // 130 nodes in 5 groups: beyond the full mesh (64), so cross-group pairs are probed in
    // rotation and many show a pass from before the fault.
    const all = clusterOf(130, 5, 'rk');
    let now = T0;
    const state = new ClusterState({ clock: () => now, windowMs: 120_000 });
    for (const n of all) state.applyPresence(presenceOf(n, now));
    const d = new Diagnoser();
    const groups = [...new Set(all.map((n) => n.group))].sort();
    const fault = { a: groups[1] as string, b: groups[4] as string };
    const run = (slot: number, f: SegmentFault | null) => {
      now = T0 + slot * 5000;
      for (const n of all) {
        state.applyPresence(presenceOf(n, now));
        state.apply(probesMsg(n, all, slot, now - 1000, f));
      }
      state.tick();
      return d.evaluate(state.diagnosisInput());
    };
    for (let s = 1; s <= 6; s++)
      assert.deepEqual(
        run(s, null).map((r) => r.id),
        [],
        `healthy round ${s}`,
      );
    let named: number | null = null;
    for (let s = 7; s <= 12 && named === null; s++) {
      const rcs = run(s, fault);
      const hit = rcs.find((r) => r.kind === 'underlay-vxlan-filtered');
      if (hit) {
        named = s - 6;
        assert.deepEqual([hit.segment?.from, hit.segment?.to], [fault.a, fault.b]);
        assert.deepEqual(
          rcs.map((r) => r.kind),
          ['underlay-vxlan-filtered'],
          'one root cause, no node-level ones',
        );
      }
    }
    assert.ok(named !== null && named <= 3, `named after ${named} fault rounds`);
  });
});

describe('collector scale simulator: the fast wire path', () => {
  it('publishes exactly what the agent encoder makes of the slow path, healthy and faulted', async () => {
    const { encodeProbes } = await import('../../../shared/probes-wire.js');
    const { roundWire } = await import('../../../bench/collector-sim.js');
    const { probesMessage } = await import('../../../agent/publish/messages.js');
    const all = clusterOf(90, 4, 'fw');
    const peers = all.map((n) => ({ name: n.name, group: n.group }));
    const by = new Map(all.map((n) => [n.name, n]));
    const groups = [...new Set(all.map((n) => n.group))].sort();
    for (const fault of [null, { a: groups[0] as string, b: groups[2] as string }]) {
      for (const src of [all[0], all[37], all[89]] as SimNode[]) {
        const targets = selectTargets({ name: src.name, group: src.group }, peers, 7, DEFAULT_PROBESET).map(
          (x) => by.get(x) as SimNode,
        );
        const probers = all.filter((n) => n !== src).slice(0, 11);
        const at = T0 + 7000;
        const slow = encodeProbes(
          probesMessage(
            { node: src.name, at: at + 300, id: 'x' },
            12,
            roundResults(src, targets, 12, at, fault),
            arrivalsOf(src, probers, at, fault),
          ),
        );
        const fast = roundWire({ node: src, at: at + 300, id: 'x', round: 12 }, targets, at, probers, fault);
        assert.deepEqual(fast, slow, `${src.name} fault ${JSON.stringify(fault)}`);
        assert.ok(validateMessage(subjectFor(src.name, 'probes'), enc.encode(JSON.stringify(fast))).ok);
      }
    }
  });
});
