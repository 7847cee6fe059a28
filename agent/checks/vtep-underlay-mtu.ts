import type { Check, Finding } from '../../shared/schema.js';
import { nsById, problem, unknown } from './util.js';

/** VXLAN adds 50 bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
export const VXLAN_OVERHEAD = 50;
/** Inner Ethernet header: Weave's fast-datapath heartbeat frame is the datapath MTU plus this. */
const INNER_ETHERNET = 14;

export const vtepUnderlayMtu: Check = {
  id: 'vtep-underlay-mtu',
  title: 'Overlay MTU + 50 fits the underlay MTU',
  incident: [6],
  run(s) {
    if (s.vteps.length === 0) return [];
    if (!s.underlay) return [unknown(s, 'vtep-underlay-mtu', 'underlay', 'underlay device not found')];
    const out: Finding[] = [];
    for (const v of s.vteps) {
      const ns = nsById(s, v.netns);
      const subject = `${ns?.name ?? v.netns}/${v.dev}`;
      const link = ns?.links.find((l) => l.name === v.dev);
      // A collect-metadata VTEP's own MTU is not what it carries; without the datapath's MTU
      // there is nothing to judge (and judging the device MTU would be a false alarm).
      if (link?.vxlan?.external && v.overlayMtu === undefined) {
        out.push(
          unknown(
            s,
            'vtep-underlay-mtu',
            subject,
            `overlay MTU of collect-metadata VTEP ${v.dev} not visible`,
          ),
        );
        continue;
      }
      const mtu = v.overlayMtu ?? v.mtu;
      const need = mtu + VXLAN_OVERHEAD;
      if (need <= s.underlay.mtu) continue;
      const fit = s.underlay.mtu - VXLAN_OVERHEAD;
      const u = s.underlay;
      const base = {
        check: 'vtep-underlay-mtu',
        kind: 'underlay-mtu' as const,
        severity: 'critical' as const,
        incident: 6,
        subject,
      };
      if (v.overlay === 'weave') {
        out.push(
          problem(s, {
            ...base,
            summary: `Weave fast datapath on ${v.dev} (UDP ${v.port}) cannot work: its heartbeat is a ${mtu + INNER_ETHERNET}-byte frame sent with DF set, ${need} bytes on the wire, but underlay ${u.dev} has MTU ${u.mtu}; Weave falls back to sleeve ("timed out waiting for vxlan heartbeat")`,
            evidence: [
              `Weave datapath MTU ${mtu}: heartbeat ${mtu} + ${INNER_ETHERNET} = ${mtu + INNER_ETHERNET} bytes inside VXLAN, ${need} bytes as an IPv4 packet on UDP ${v.port}`,
              `underlay ${u.dev} mtu ${u.mtu} (${need - u.mtu} bytes short)`,
            ],
            remediation: `Raise the underlay MTU (ip link set ${u.dev} mtu ${need}) or relaunch Weave with WEAVE_MTU=${fit} so the fast datapath fits.`,
          }),
        );
        continue;
      }
      const remediation: Record<string, string> = {
        flannel: `Raise the underlay MTU (ip link set ${u.dev} mtu ${need}) or let flannel derive the overlay MTU from the underlay (restart flannel so ${v.dev} and pods get MTU ${fit}).`,
        calico: `Raise the underlay MTU (ip link set ${u.dev} mtu ${need}) or set Calico's vxlanMTU to ${fit} (FelixConfiguration) so vxlan.calico and pods get it.`,
        cilium: `Raise the underlay MTU (ip link set ${u.dev} mtu ${need}) or set Cilium's MTU to ${fit} (helm value MTU) so pod routes get it.`,
        antrea: `Raise the underlay MTU (ip link set ${u.dev} mtu ${need}) or set Antrea's defaultMTU to ${fit} (antrea-agent.conf).`,
      };
      out.push(
        problem(s, {
          ...base,
          summary: `${v.dev} (VNI ${v.vni}) carries MTU ${mtu}: encapsulated frames are ${need} bytes, but underlay ${u.dev} has MTU ${u.mtu}`,
          evidence: [
            `${v.overlayMtu !== undefined ? `overlay MTU ${mtu} (device ${v.dev} mtu ${v.mtu})` : `VTEP ${v.dev} mtu ${mtu}`} + ${VXLAN_OVERHEAD} bytes VXLAN overhead = ${need}`,
            `underlay ${u.dev} mtu ${u.mtu}`,
          ],
          remediation:
            remediation[v.overlay ?? v.style] ??
            `Raise the underlay MTU (ip link set ${u.dev} mtu ${need}) or create the overlay with a smaller MTU: docker network create -d overlay -o com.docker.network.driver.mtu=${fit} ...`,
        }),
      );
    }
    return out;
  },
};
