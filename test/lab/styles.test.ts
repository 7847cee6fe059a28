/**
 * A lab node per VXLAN overlay style on the real kernel (test/lab/styles.sh): `vxdoctor inspect
 * --json` inside node n1 recognizes the style from the kernel's view, finds nothing wrong on the
 * healthy node, and names each of the style's node faults; a wrong port is named by the cluster
 * check over both nodes' snapshots. The Docker style is a libnetwork-built sandbox under a
 * non-standard name and exec-root: its checks fire as on `1-<id>`.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLUSTER_CHECKS } from '../../shared/crosschecks/index.js';
import type { Finding, NodeSnapshot } from '../../shared/schema.js';
import { labAllowed, labId } from './lab.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SH = join(ROOT, 'test/lab/styles.sh');
const run = promisify(execFile);
const ID = labId('vst');
const RUN = `/run/${ID}-styles`;

const STYLES: Array<{ style: string; dev: string; faults: Record<string, RegExp> }> = [
  {
    style: 'docker',
    dev: 'vxlan0',
    faults: {
      'vtep-down': /vtep-state/,
      detached: /vtep-state.*not attached to the overlay bridge/,
      'mtu-small': /vtep-underlay-mtu/,
    },
  },
  {
    style: 'flannel',
    dev: 'flannel.1',
    faults: { 'vtep-down': /vtep-state/, 'mtu-small': /vtep-underlay-mtu/ },
  },
  {
    style: 'calico',
    dev: 'vxlan.calico',
    faults: { 'vtep-down': /vtep-state/, 'mtu-small': /vtep-underlay-mtu/ },
  },
  {
    style: 'cilium',
    dev: 'cilium_vxlan',
    faults: { 'vtep-down': /vtep-state/, 'mtu-small': /vtep-underlay-mtu/ },
  },
  {
    style: 'weave',
    dev: 'vxlan-6784',
    faults: {
      'vtep-down': /vtep-state/,
      detached: /vtep-state.*Weave's datapath/,
      'mtu-small': /vtep-underlay-mtu.*Weave fast datapath.*1460 bytes on the wire.*MTU 1454/,
    },
  },
  {
    style: 'antrea',
    dev: 'vxlan_sys_4789',
    faults: { 'vtep-down': /vtep-state/, 'mtu-small': /vtep-underlay-mtu/ },
  },
  {
    style: 'unknown',
    dev: 'vx-ovl',
    faults: { 'vtep-down': /vtep-state/, 'mtu-small': /vtep-underlay-mtu/ },
  },
];

const sh = (...args: string[]) => run('bash', [SH, ID, ...args], { timeout: 60_000 });
const serious = (f: Finding[]) => f.filter((x) => x.status === 'problem' && x.severity !== 'info');
const line = (f: Finding) => `${f.check} ${f.severity} ${f.summary}`;

async function inspect(
  node: string,
  style: string,
): Promise<{ snapshot: NodeSnapshot; findings: Finding[] }> {
  const dirs = ['--netns-dir', `${RUN}/${node}/netns`];
  if (style === 'docker') dirs.push('--netns-dir', `${RUN}/${node}/engine-x/netns`);
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      `${ID}-${node}`,
      process.execPath,
      join(ROOT, 'bin/vxdoctor.js'),
      'inspect',
      '--json',
      '--node',
      node,
      ...dirs,
      '--no-proc-netns',
      '--underlay-if',
      'eth0',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.ok([0, 1, 3].includes(r.status ?? -1), `inspect exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { snapshot: NodeSnapshot; findings: Finding[] };
}

describe('style lab nodes on the real kernel', { concurrency: false }, () => {
  const skip = !labAllowed();
  before(() => {
    if (skip) return;
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, `build failed: ${b.stdout}${b.stderr}`);
  });
  after(async () => {
    if (!skip) await sh('down').catch(() => undefined);
  });

  for (const st of STYLES) {
    it(`${st.style}: recognized, healthy clean, its faults named`, async (t) => {
      if (skip) return t.skip('needs root');
      await sh('up', st.style);
      const h = await inspect('n1', st.style);
      const v = h.snapshot.vteps.find((x) => x.dev === st.dev);
      assert.equal(v?.overlay, st.style, JSON.stringify(h.snapshot.vteps));
      assert.deepEqual(serious(h.findings).map(line), [], 'healthy n1');
      const h2 = await inspect('n2', st.style);
      assert.deepEqual(serious(h2.findings).map(line), [], 'healthy n2');
      if (st.style === 'docker')
        assert.equal(h.snapshot.namespaces.find((n) => n.name === 'blue-net')?.role, 'docker-overlay');
      for (const [fault, want] of Object.entries(st.faults)) {
        await sh('fault', fault);
        try {
          const f = await inspect('n1', st.style);
          const lines = serious(f.findings)
            .filter((x) => x.severity === 'critical')
            .map(line);
          assert.ok(
            lines.some((l) => want.test(l)),
            `${fault}: ${want} not in\n${lines.join('\n')}`,
          );
        } finally {
          await sh('clear');
        }
      }
      // A port differing between the nodes: the cluster check over both snapshots names n1.
      await sh('fault', 'wrong-port');
      try {
        const a = await inspect('n1', st.style);
        const found = CLUSTER_CHECKS.flatMap((c) => c.run([a.snapshot, h2.snapshot], { options: {} }));
        assert.ok(
          found.some((f) => f.kind === 'dstport-mismatch' && f.node === 'n1'),
          JSON.stringify(found.map(line)),
        );
      } finally {
        await sh('clear');
      }
      const again = await inspect('n1', st.style);
      assert.deepEqual(serious(again.findings).map(line), [], 'clean again after clear');
    });
  }
});
