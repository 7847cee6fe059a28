/** A fixed synthetic cluster (ToR drops VXLAN between racks, gwbridge missing on n2) for metrics and route tests. */
import { Diagnoser } from '../../../collector/diagnosis/index.js';
import { IngestCounters, validateMessage } from '../../../collector/ingest/index.js';
import { ClusterState } from '../../../collector/state/index.js';
import {
  crossRack,
  type Fault,
  finding,
  findingsMsg,
  NODES,
  presence,
  ROUND_MS,
  round,
  snapshotMsg,
  T0,
} from './synth.js';

export const NOW = T0 + 3 * ROUND_MS + 2000;

export function fixtureCluster(): { state: ClusterState; ingest: IngestCounters; diagnoser: Diagnoser } {
  const state = new ClusterState({ clock: () => NOW, presenceTtlMs: 10_000 });
  const ingest = new IngestCounters();
  const diagnoser = new Diagnoser();
  const fault: Fault = (a, b, p) =>
    crossRack(a, b) && p !== 'control' ? { kind: 'lost-in-path' } : { kind: 'ok' };
  const feed = (subject: string, m: unknown) => {
    const r = validateMessage(
      subject,
      new TextEncoder().encode(typeof m === 'string' ? m : JSON.stringify(m)),
    );
    ingest.count(r);
    if (r.ok) state.apply(r.msg);
  };
  for (let n = 0; n < 3; n++) {
    for (const node of NODES) {
      // n4's agent stopped after round 0.
      if (node !== 'n4' || n === 0) state.applyPresence(presence(node, T0 + n * ROUND_MS));
      feed(`vxdoctor.v1.${node}.snapshot`, snapshotMsg(node, n));
      feed(
        `vxdoctor.v1.${node}.findings`,
        findingsMsg(
          node,
          n,
          node === 'n2'
            ? [finding('n2', 'missing-gwbridge', 'gwbridge', 'critical', { remediation: '' })]
            : [],
        ),
      );
    }
    for (const m of round(n, fault)) feed(`vxdoctor.v1.${m.node}.probes`, m);
    state.tick();
    diagnoser.evaluate(state.diagnosisInput());
  }
  feed('vxdoctor.v1.n1.probes', '{not json');
  feed('vxdoctor.v1.n1.bogus', {});
  return { state, ingest, diagnoser };
}
