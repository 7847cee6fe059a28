/**
 * The routed lab fabric with the agent's real hop walker (libpcap, dgram setTTL, probe codec):
 * ECMP over two spines, and each fabric fault named by its hop — the router's address — from
 * the hosts alone; the one-spine drop with its share of failing flows; the pure-L2 variant
 * answers "could not walk".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareWalks, judgeSports, sportSet } from '../../agent/heartbeat/hops.js';
import { Fabric, spineDown, torHostSide } from './fabric.js';
import { labAllowed } from './lab.js';

const VXLAN = 4789;
const CONTROL = 7946;
const SPORTS = sportSet(43100);

describe('routed lab fabric: hop walks', { skip: !labAllowed() && 'needs root (network namespaces)' }, () => {
  let fab: Fabric;
  before(async () => {
    fab = await Fabric.up({ racks: 3, perRack: 1 });
  });
  after(async () => {
    await fab?.down();
  });

  const walkAll = async (src: string, dst: string, size: number) => {
    const rows = await fab.walk(fab.host(src), fab.host(dst), {
      size,
      ports: [VXLAN, CONTROL],
      sports: SPORTS,
    });
    return SPORTS.map((sport) => {
      const v = rows.find((r) => r.sport === sport && r.port === VXLAN)!.walk;
      const c = rows.find((r) => r.sport === sport && r.port === CONTROL)!.walk;
      return { sport, v, c, cmp: compareWalks(v, c) };
    });
  };

  it('healthy: every flow crosses three routers, both spines carry some flows, nothing is named', async () => {
    const flows = await walkAll('h11', 'h31', 160);
    for (const f of flows) {
      assert.equal(f.cmp.verdict, 'same', `sport ${f.sport}: ${f.cmp.text}`);
      assert.equal(f.c.reached, true);
      assert.equal(f.v.replies[0]!.address, torHostSide(1));
    }
    const spines = new Set(flows.map((f) => f.v.replies[1]!.address));
    assert.deepEqual(
      spines,
      new Set([spineDown(1, 1), spineDown(1, 2)]),
      'L4 hash spreads 16 flows over both spines',
    );
  });

  it('spine 1 drops VXLAN: the failing flows die after spine 1, the share is said, one failing and one passing sport', async () => {
    await fab.fault('spine-drop-vxlan');
    try {
      const flows = await walkAll('h11', 'h31', 160);
      const failing = flows.filter((f) => f.cmp.verdict === 'vxlan-dies-after');
      for (const f of failing) {
        assert.equal(f.cmp.at, spineDown(1, 1), f.cmp.text);
        assert.match(f.cmp.text, /forwarded by 10\.66\.1\.6, never by 10\.66\.3\.\d+; control passes both/);
      }
      for (const f of flows.filter((x) => x.cmp.verdict !== 'vxlan-dies-after'))
        assert.equal(f.v.replies[1]!.address, spineDown(1, 2), 'a passing flow went through spine 2');
      const spread = judgeSports(
        flows.map(() => 1),
        flows.map((f) => (f.cmp.verdict === 'vxlan-dies-after' ? 0 : 1)),
      );
      assert.ok(spread.failing > 0 && spread.failing < 16, `${spread.failing} of 16 fail`);
      assert.equal(spread.concentrated, true);
      assert.equal(spread.text, `${spread.failing} of 16 flows fail: one of the parallel paths drops VXLAN`);
      assert.notEqual(spread.walkFailing, null);
      assert.notEqual(spread.walkPassing, null);
    } finally {
      await fab.clear();
    }
  });

  it('ToR 1 drops VXLAN on its uplinks: every flow dies after ToR 1', async () => {
    await fab.fault('tor-uplink-vxlan');
    try {
      const flows = await walkAll('h11', 'h31', 160);
      for (const f of flows) {
        assert.equal(f.cmp.verdict, 'vxlan-dies-after', f.cmp.text);
        assert.equal(f.cmp.at, torHostSide(1));
      }
    } finally {
      await fab.clear();
    }
  });

  it('an MTU 1454 link at spine 1: a full-size flow through it gets frag-needed from spine 1 (1454), then the kernel knows', async () => {
    await fab.fault('spine-mtu');
    try {
      // Flow after flow until one hashes onto spine 1; the ones before went through spine 2 whole.
      let named: ReturnType<typeof compareWalks> | null = null;
      for (const sport of SPORTS) {
        const rows = await fab.walk(fab.host('h11'), fab.host('h21'), {
          size: 1500,
          ports: [VXLAN],
          sports: [sport],
        });
        const v = rows[0]!.walk;
        const cmp = compareWalks(v, null);
        if (cmp.verdict === 'frag-needed') {
          named = cmp;
          break;
        }
        assert.equal(
          v.replies[1]!.address,
          spineDown(1, 2),
          `sport ${sport} passed whole, so through spine 2`,
        );
      }
      assert.ok(named, 'some flow of 16 hashed onto spine 1');
      assert.equal(named.at, spineDown(1, 1));
      assert.equal(named.mtu, 1454);
      assert.match(named.text, /^10\.66\.1\.6 answers frag-needed \(next-hop MTU 1454\)/);
      const route = await fab.exec('h11', ['ip', '-4', 'route', 'get', '10.64.2.11']);
      assert.match(route.stdout, /mtu 1454/, 'the sender learned the path MTU from that frag-needed');
    } finally {
      await fab.clear();
    }
  });

  it('pure L2 (one flat bridge, no router): could not walk, nothing named', async () => {
    await fab.down();
    fab = await Fabric.up({ racks: 2, perRack: 2, l2: true });
    const rows = await fab.walk(fab.host('h11'), fab.host('h22'), {
      size: 160,
      ports: [VXLAN, CONTROL],
      sports: SPORTS.slice(0, 2),
    });
    for (const sport of SPORTS.slice(0, 2)) {
      const v = rows.find((r) => r.sport === sport && r.port === VXLAN)!.walk;
      const c = rows.find((r) => r.sport === sport && r.port === CONTROL)!.walk;
      const cmp = compareWalks(v, c);
      assert.equal(cmp.verdict, 'could-not-walk', cmp.text);
      assert.equal(cmp.at, null);
    }
  });
});
