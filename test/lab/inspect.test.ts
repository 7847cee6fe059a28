/**
 * `vxdoctor inspect --json` run inside each lab node, as an operator would on a real node:
 * the healthy lab is clean everywhere; each node-local fault is named on its node by the right
 * check, with exit code 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Finding } from '../../shared/schema.js';
import { Lab, labAllowed } from './lab.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const LOCAL_FAULTS: Array<{ fault: string; node: string; check: string }> = [
  { fault: 'host-fw-vxlan', node: 'n3', check: 'firewall-overlay-ports' },
  { fault: 'mtu-fragneeded', node: 'n4', check: 'vtep-underlay-mtu' },
  { fault: 'fdb-nat', node: 'n1', check: 'fdb-destination' },
  { fault: 'dup-vtep', node: 'n1', check: 'fdb-destination' },
  { fault: 'missing-gwbridge', node: 'n2', check: 'docker-gwbridge' },
  { fault: 'neighbor-missing', node: 'n1', check: 'vtep-neighbor-fdb' },
  { fault: 'vtep-down', node: 'n2', check: 'vtep-state' },
  { fault: 'subnet-overlap', node: 'n1', check: 'overlay-subnet-overlap' },
];

describe('vxdoctor inspect in lab nodes', { concurrency: false }, () => {
  let lab: Lab | null = null;
  let skip = false;

  const inspect = async (node: string): Promise<{ code: number; findings: Finding[] }> => {
    const n = lab!.node(node);
    const r = await lab!.exec(
      node,
      [process.execPath, `${ROOT}bin/vxdoctor.js`, 'inspect', '--json', '--node', node, ...n.agentArgs],
      {
        timeoutMs: 30_000,
      },
    );
    assert.ok(r.code === 0 || r.code === 1 || r.code === 3, `inspect exit ${r.code}: ${r.stderr}`);
    return { code: r.code as number, findings: (JSON.parse(r.stdout) as { findings: Finding[] }).findings };
  };
  const serious = (f: Finding[]) => f.filter((x) => x.status === 'problem' && x.severity !== 'info');

  before(async () => {
    if (!labAllowed()) {
      skip = true;
      return;
    }
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, `build failed: ${b.stdout}${b.stderr}`);
    lab = await Lab.up({ id: 'vxi' });
  });
  after(async () => {
    await lab?.down();
  });

  it('healthy lab: no warning or critical finding on any node, exit 0', async (t) => {
    if (skip) return t.skip('needs root');
    for (const n of ['n1', 'n2', 'n3', 'n4']) {
      const r = await inspect(n);
      assert.deepEqual(serious(r.findings), [], n);
      assert.equal(r.code, 0, n);
    }
  });

  for (const c of LOCAL_FAULTS) {
    it(`${c.fault}: ${c.node} names ${c.check}, exit 1`, async (t) => {
      if (skip) return t.skip('needs root');
      await lab!.fault(c.fault);
      try {
        const r = await inspect(c.node);
        assert.ok(
          serious(r.findings).some((f) => f.check === c.check && f.severity === 'critical'),
          JSON.stringify(serious(r.findings), null, 1),
        );
        assert.equal(r.code, 1);
      } finally {
        await lab!.clear();
      }
    });
  }
});
