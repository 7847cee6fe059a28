/**
 * One wording of a probe's fate, hop by hop, for everyone who shows it: the collector's pair
 * `fate` (API, page, root-cause evidence), the agent's trace `verdict` lines and the `trace`
 * command. Pure: a ProbeResult in, text out.
 */
import type { ProbeResult } from './schema.js';

/** Whether one probe result counts as passing (for pmtu: the full size fit). */
export function probeOk(r: ProbeResult): boolean {
  if (!r.sent || !r.answered) return false;
  if (r.path === 'pmtu' && r.pmtu) {
    return r.pmtu.largestPassing !== null && r.pmtu.largestPassing >= r.pmtu.required;
  }
  return true;
}

/**
 * Where the probe got to: `ok`, or the last hop it was seen at and the first it was not
 * (`left n1, never reached n3`), with ICMP, the PMTU sizes and the prober's note.
 */
export function describeFate(r: ProbeResult): string {
  if (!r.sent) return `not sent from ${r.src}${r.note ? ` (${r.note})` : ''}`;
  if (r.path === 'pmtu' && r.pmtu && r.answered && !probeOk(r)) {
    const p = r.pmtu;
    return `largest passing ${p.largestPassing ?? 'none'} < required ${p.required}${
      p.fragNeededMtu
        ? ` (ICMP frag-needed mtu ${p.fragNeededMtu})`
        : p.learnedPmtu !== null && p.learnedPmtu < p.required
          ? ` (kernel learned PMTU ${p.learnedPmtu} from ICMP frag-needed)`
          : ' (no ICMP, no learned PMTU: silent drop)'
    }`;
  }
  if (r.answered) return r.replySeen === false ? `ok (reply not captured at ${r.src})` : 'ok';
  const parts: string[] = [];
  if (r.leftSrc === false) parts.push(`never left ${r.src}`);
  else if (r.leftSrc === true) parts.push(`left ${r.src}`);
  else parts.push(`sent from ${r.src}`);
  if (r.arrivedDst === false) parts.push(`never reached ${r.dst}`);
  else if (r.arrivedDst === true) parts.push(`reached ${r.dst}'s NIC, no answer`);
  else parts.push(`no answer from ${r.dst} (arrival unknown)`);
  let s = parts.join(', ');
  if (r.icmp.length) s += ` [${r.icmp.join('; ')}]`;
  if (r.path === 'pmtu' && r.pmtu)
    s += ` (largest passing ${r.pmtu.largestPassing ?? 'none'}, required ${r.pmtu.required})`;
  if (r.note) s += ` (${r.note})`;
  return s;
}

/**
 * One verdict line of a trace: the path and its fate. An answered probe's note (which TCP
 * port answered how, a full-size probe standing for the small one) is kept: a trace is read
 * probe by probe.
 */
export function verdictLine(r: ProbeResult): string {
  const fate = describeFate(r);
  const note = r.sent && r.answered && r.note && !fate.includes(r.note) ? ` (${r.note})` : '';
  return `${r.path}: ${fate}${note}`;
}
