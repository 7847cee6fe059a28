/**
 * The real agent (bin/vxdoctor.js in each lab node namespace) over a real nats-server: peers
 * found through KV, every probe kind exchanged, faults seen hop by hop, footprint measured.
 * (The heartbeat helper tests the Prober alone; this goes through the agent and NATS.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { requireRoot } from '../lab/lab.js';
import type { ProbePath, ProbeResult, ProbesMessage } from '../../shared/schema.js';
import {
  type LabAgents,
  OUTPUT,
  procUsage,
  StreamReader,
  sleep,
  startLabAgents,
  traceRequest,
  waitFor,
} from './harness.js';

const NODES = ['n1', 'n2', 'n3', 'n4'];
const RACK: Record<string, string> = { n1: 'A', n2: 'A', n3: 'B', n4: 'B' };
const PATHS: ProbePath[] = ['vxlan', 'control', 'pmtu', 'overlay'];
let env: LabAgents | null = null;
let reader: StreamReader | null = null;

after(async () => {
  await reader?.close();
  await env?.teardown();
});

/** Probes messages of `node` sent after `since` (epoch ms). */
const roundsSince = (node: string, since: number): ProbesMessage[] =>
  (reader?.of('probes', node) ?? []).filter((m) => m.at >= since);

/**
 * Results of probes *sent* from `since` on, for one src/dst/path (a round that began before a
 * fault can be published after it: its message is late, its probes are not).
 */
const results = (since: number, src: string, dst: string, path: ProbePath): ProbeResult[] =>
  roundsSince(src, since).flatMap((m) =>
    m.results.filter((r) => r.dst === dst && r.path === path && r.at >= since),
  );

const describe = (rs: ProbeResult[]) =>
  JSON.stringify(rs.slice(-2).map((r) => ({ ...r, note: r.note?.slice(0, 80) })));

/** Waits until `n` rounds of every node were sent after `since`. */
async function rounds(since: number, n: number): Promise<void> {
  await waitFor(
    `${n} rounds from every node`,
    () => NODES.every((x) => roundsSince(x, since).length >= n),
    60_000,
  );
}

test('agents on the lab: discovery, probes, faults, footprint', { timeout: 600_000 }, async (t) => {
  if (!requireRoot(t)) return;
  env = await startLabAgents({ id: 'vxd', name: 'agent' });
  reader = await StreamReader.open(env.nats.url);
  const lab = env.lab;

  await t.test('every agent probes every other node on every path (peers from KV)', async () => {
    await waitFor(
      'full mesh answered on all paths',
      () =>
        NODES.every((src) =>
          NODES.filter((d) => d !== src).every((dst) =>
            PATHS.every((p) => {
              const last = results(0, src, dst, p).at(-1);
              return last?.answered === true;
            }),
          ),
        ),
      90_000,
    ).catch((err) => {
      const lines = NODES.flatMap((src) =>
        NODES.filter((d) => d !== src).flatMap((dst) =>
          PATHS.map((p) => `${src}->${dst} ${p}: ${describe(results(0, src, dst, p).slice(-1))}`),
        ),
      );
      throw new Error(`${err.message}\n${lines.join('\n')}`);
    });
    // Summary and findings came too, from every node (never a whole snapshot: details on demand).
    for (const n of NODES) {
      assert.ok(reader?.of('summary', n).length, `no summary from ${n}`);
      assert.equal(reader?.of('snapshot', n).length, 0, `a whole snapshot from ${n} in the stream`);
      assert.ok(reader?.of('findings', n).length, `no findings from ${n}`);
    }
  });

  await t.test('trace over NATS request/reply', async () => {
    const nc = reader?.nats;
    assert.ok(nc);
    const tr = await traceRequest(nc, 'n1', 'n3');
    assert.equal(tr.error, undefined);
    assert.deepEqual([...new Set(tr.results.map((r) => r.path))].sort(), [...PATHS].sort());
    assert.ok(tr.results.every((r) => r.src === 'n1' && r.dst === 'n3'));
    assert.equal(tr.verdict.length, tr.results.length);
  });

  await t.test(
    'tor-drop-vxlan: cross-rack vxlan left the source and never arrived; control and same-rack pass',
    async () => {
      await lab.fault('tor-drop-vxlan');
      try {
        await sleep(500);
        const since = Date.now();
        await rounds(since, 3);
        for (const src of NODES)
          for (const dst of NODES.filter((d) => d !== src)) {
            const vx = results(since, src, dst, 'vxlan');
            const ctl = results(since, src, dst, 'control');
            assert.ok(vx.length >= 2 && ctl.length >= 2, `${src}->${dst}: too few results`);
            if (RACK[src] !== RACK[dst]) {
              for (const r of vx) {
                assert.equal(
                  r.answered,
                  false,
                  `${src}->${dst} vxlan answered under tor-drop: ${describe([r])}`,
                );
                assert.equal(r.leftSrc, true, `${src}->${dst} vxlan leftSrc: ${describe([r])}`);
                // The sender cannot know; the receiver's arrival reports say it never came.
                assert.equal(r.arrivedDst, null, `${src}->${dst} vxlan arrivedDst: ${describe([r])}`);
              }
              const arrived = roundsSince(dst, since).flatMap((m) =>
                m.arrivals.filter((a) => a.from === src && a.path === 'vxlan' && a.lastAt >= since),
              );
              assert.deepEqual(arrived, [], `${dst} saw vxlan probes from ${src} through the ToR drop`);
            } else
              assert.ok(
                vx.every((r) => r.answered),
                `same-rack ${src}->${dst} vxlan failed: ${describe(vx)}`,
              );
            assert.ok(
              ctl.every((r) => r.answered),
              `${src}->${dst} control failed: ${describe(ctl)}`,
            );
          }
        // The receiver side agrees: no vxlan arrivals from the other rack in its reports.
        const late = Date.now() + 3000;
        await rounds(late, 1);
        const n3 = roundsSince('n3', late).flatMap((m) => m.arrivals);
        assert.equal(
          n3.filter((a) => a.path === 'vxlan' && RACK[a.from] === 'A' && a.lastAt >= late).length,
          0,
        );
      } finally {
        await lab.clear();
      }
    },
  );

  for (const fault of ['mtu-blackhole', 'mtu-fragneeded']) {
    // The L3 hop enforces exactly 1454. The veth "switch port" of the L2 black hole lets
    // frames through up to MTU + VLAN_HLEN (the kernel's is_skb_forwardable), i.e. IP 1458:
    // the agent reports what the datapath really passes.
    const expected = fault === 'mtu-fragneeded' ? [1454, 1454] : [1454, 1458];
    await t.test(`${fault}: pmtu toward n4 largest passing ${expected.join('..')}`, async () => {
      await lab.fault(fault);
      try {
        const since = Date.now() + 500;
        await waitFor(
          `pmtu n1->n4 ${fault}`,
          () => {
            const r = results(since, 'n1', 'n4', 'pmtu').at(-1);
            const lp = r?.pmtu?.largestPassing ?? 0;
            return lp >= expected[0]! && lp <= expected[1]! && r?.answered === false ? r : null;
          },
          60_000,
        ).catch((err) => {
          throw new Error(`${err.message}: ${describe(results(since, 'n1', 'n4', 'pmtu'))}`);
        });
        const r = results(since, 'n1', 'n4', 'pmtu').at(-1);
        assert.equal(r?.pmtu?.required, 1500);
        // frag-needed comes back only from the L3 variant (later rounds may just see the
        // learned PMTU); the L2 black hole is silent.
        const all = results(since, 'n1', 'n4', 'pmtu');
        if (fault === 'mtu-fragneeded')
          assert.ok(
            all.some((x) => x.pmtu?.fragNeededMtu === 1454 || x.pmtu?.learnedPmtu === 1454),
            `no frag-needed/learned 1454: ${describe(all)}`,
          );
        else
          assert.ok(
            all.every((x) => x.pmtu?.fragNeededMtu == null),
            `frag-needed under an L2 black hole`,
          );
        // Within rack A nothing changed: the full overlay size passes.
        const ok = results(since, 'n1', 'n2', 'pmtu').at(-1);
        assert.ok(
          ok?.pmtu && (ok.pmtu.largestPassing ?? 0) >= ok.pmtu.required,
          `n1->n2 pmtu: ${describe(ok ? [ok] : [])}`,
        );
      } finally {
        await lab.clear();
      }
    });
  }

  await t.test("host-fw-vxlan: vxlan probe reaches n3's NIC; n3's docker overlay probe fails", async () => {
    await lab.fault('host-fw-vxlan');
    try {
      const since = Date.now() + 500;
      await rounds(since, 3);
      const vx = results(since, 'n1', 'n3', 'vxlan');
      assert.ok(vx.length >= 2);
      for (const r of vx) {
        // n3's input chain drops 4789 after libpcap saw it: the probe reached n3's NIC, and n3's
        // answer (outbound) comes back. Only the kernel VTEP behind the firewall misses it.
        if (r.port === 4789) assert.equal(r.arrivedDst, true, `n1->n3 vxlan arrivedDst: ${describe([r])}`);
      }
      const ov = roundsSince('n3', since).flatMap((m) =>
        m.results.filter((r) => r.path === 'overlay' && r.target.startsWith('10.0.1.') && r.at >= since),
      );
      assert.ok(ov.length >= 2, 'no docker-overlay probes from n3');
      assert.ok(
        ov.every((r) => !r.answered),
        `n3 docker overlay answered: ${describe(ov)}`,
      );
    } finally {
      await lab.clear();
    }
  });

  await t.test('footprint: steady-state RSS and CPU of each agent', async () => {
    await sleep(5000);
    const a = env?.agents ?? [];
    const t0 = Date.now();
    const first = a.map((x) => procUsage(x.pid));
    await sleep(20_000);
    const secs = (Date.now() - t0) / 1000;
    const figures = a.map((x, i) => {
      const u = procUsage(x.pid);
      return {
        node: x.node,
        pid: x.pid,
        rssMiB: Math.round((u.rssBytes / 1048576) * 10) / 10,
        cpuPercent: Math.round(((u.cpuSeconds - (first[i]?.cpuSeconds ?? 0)) / secs) * 1000) / 10,
      };
    });
    const out = {
      measuredAt: new Date().toISOString(),
      windowSeconds: secs,
      interval: '2s',
      agents: figures,
    };
    writeFileSync(join(OUTPUT, 'agent-footprint.json'), `${JSON.stringify(out, null, 2)}\n`);
    for (const f of figures) {
      assert.ok(f.rssMiB > 10 && f.rssMiB < 300, `${f.node} RSS ${f.rssMiB} MiB`);
      assert.ok(f.cpuPercent < 50, `${f.node} CPU ${f.cpuPercent}%`);
    }
  });

  await t.test('a restarted agent (sequence numbers from 1 again) is answered by its peers', async () => {
    const since = Date.now();
    await env?.restartAgent('n4');
    await waitFor(
      "n4's vxlan and control probes answered by n1 and n3 after its restart",
      () =>
        ['n1', 'n3'].every((dst) =>
          (['vxlan', 'control'] as const).every((p) => results(since, 'n4', dst, p).some((r) => r.answered)),
        ),
      60_000,
    );
  });

  await t.test('SIGTERM: every agent exits 0 within seconds', async () => {
    const t0 = Date.now();
    const codes = (await env?.stopAgents()) ?? [];
    assert.deepEqual(codes, [0, 0, 0, 0]);
    assert.ok(Date.now() - t0 < 20_000);
  });
});
