/**
 * `vxdoctor trace SRC DST [--collector URL]`: asks the collector to have SRC's agent probe DST
 * (and DST's agent probe SRC) on every path now, and prints each probe's hop-by-hop chain with
 * the verdict, both directions. Exit 0 every path passed (both ways, when DST answered), 1 a
 * path failed, 2 usage/HTTP error, 4 SRC's agent did not answer.
 */
import { type CommandSpec, ConfigError, type Parsed, readSecretFile } from '../shared/config.js';
import { describeFate, probeOk } from '../shared/fate.js';
import type { HopsEvidence, ProbeResult, Seen, TraceReply } from '../shared/schema.js';
import { clientFlags, type Io, outputFormat, STDIO } from './flags.js';

export const command: CommandSpec = {
  name: 'trace',
  usage: 'vxdoctor trace SRC DST [--collector URL] [--output json]',
  summary:
    "On-demand hop-by-hop probe from SRC's agent to DST on every path (vxlan, control, pmtu, overlay).",
  positionals: ['SRC', 'DST'],
  flags: [
    ...clientFlags('30s'),
    {
      name: 'api-token-file',
      type: 'string',
      metavar: 'PATH',
      help: "the collector's API bearer token (chmod 600), when it has one",
    },
  ],
};

const mark = (s: Seen | boolean): string => (s === true ? 'yes' : s === false ? 'NO' : '?');

export function formatHop(r: ProbeResult): string {
  const port = r.port !== null ? `:${r.port}` : '';
  const chain = [
    `sent ${mark(r.sent)}`,
    `left ${r.src} ${mark(r.leftSrc)}`,
    `arrived ${r.dst} ${mark(r.arrivedDst)}`,
    `answered ${mark(r.answered)}`,
    `reply seen ${mark(r.replySeen)}`,
  ].join(' -> ');
  const rtt = r.rttSeconds !== null ? ` rtt ${(r.rttSeconds * 1000).toFixed(2)} ms` : '';
  const lines = [`  ${r.path.padEnd(8)} ${r.target}${port}  ${probeOk(r) ? 'OK  ' : 'FAIL'}  ${chain}${rtt}`];
  if (!probeOk(r)) lines.push(`           ${describeFate(r)}`);
  if (r.pmtu)
    lines.push(
      `           pmtu: required ${r.pmtu.required}, largest passing ${r.pmtu.largestPassing ?? 'none'}${
        r.pmtu.fragNeededMtu ? `, ICMP frag-needed mtu ${r.pmtu.fragNeededMtu}` : ''
      }${r.pmtu.learnedPmtu ? `, learned pmtu ${r.pmtu.learnedPmtu}` : ''}`,
    );
  for (const i of r.icmp) lines.push(`           icmp: ${i}`);
  if (r.note) lines.push(`           note: ${r.note}`);
  if (r.hops) lines.push(formatHops(r.hops, '           '));
  return lines.join('\n');
}

/**
 * A hop walk, the VXLAN-port walk and the control-port walk side by side per TTL, then what it
 * names. `indent` prefixes every line.
 */
export function formatHops(h: HopsEvidence, indent = ''): string {
  const lines = [`${indent}hop walk (source port ${h.sport}, ${h.size} B): ${h.text}`];
  if (h.rows.length) {
    const hop = (r: HopsEvidence['rows'][number]) =>
      r.address ? `${r.address}${r.name ? ` (${r.name})` : ''}` : '*';
    const w = Math.max(16, ...h.rows.map((r) => hop(r).length + 2));
    const vx = `VXLAN ${h.port}`;
    const ctl = h.controlPort !== null ? `CONTROL ${h.controlPort}` : 'CONTROL';
    lines.push(`${indent}${'TTL'.padEnd(5)}${'HOP'.padEnd(w)}${vx.padEnd(12)}${ctl}`);
    for (const r of h.rows) {
      const v = r.fragNeededMtu !== null ? `frag ${r.fragNeededMtu}` : r.vxlan ? 'yes' : '-';
      const c = r.control ? (r.controlAddress ? `yes via ${r.controlAddress}` : 'yes') : '-';
      lines.push(`${indent}${String(r.ttl).padEnd(5)}${hop(r).padEnd(w)}${v.padEnd(12)}${c}`);
    }
  }
  return lines.join('\n');
}

export function formatTrace(t: TraceReply): string {
  const lines = [`trace ${t.src} -> ${t.dst}`];
  for (const r of t.results) lines.push(formatHop(r));
  if (t.verdict.length) {
    lines.push('verdict:');
    for (const v of t.verdict) lines.push(`  ${v}`);
  }
  if (t.error) lines.push(`error: ${t.error}`);
  const out = `${lines.join('\n')}\n`;
  return t.reverse ? `${out}\n${formatTrace(t.reverse)}` : out;
}

export async function run(parsed: Parsed, io: Io = STDIO): Promise<number> {
  const [src, dst] = parsed.positionals as [string, string];
  const v = parsed.values;
  const output = outputFormat(v.output);
  const url = `${(v.collector as string).replace(/\/+$/, '')}/api/v1/trace`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const tokenFile = v['api-token-file'];
  if (typeof tokenFile === 'string' && tokenFile)
    headers.authorization = `Bearer ${readSecretFile('api-token-file', tokenFile).toString('utf8')}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ src, dst }),
      signal: AbortSignal.timeout(v.timeout as number),
    });
  } catch (err) {
    io.err(`vxdoctor trace: cannot reach the collector at ${v.collector}: ${(err as Error).message}\n`);
    return 2;
  }
  const body = (await res.json().catch(() => ({}))) as TraceReply & { error?: string };
  if (!res.ok) {
    if (res.status === 429) io.err('vxdoctor trace: the collector is busy with other traces; try again\n');
    io.err(`vxdoctor trace: ${body.error ?? `HTTP ${res.status}`}\n`);
    return res.status === 504 ? 4 : 2;
  }
  io.out(output === 'json' ? `${JSON.stringify(body, null, 2)}\n` : formatTrace(body));
  const passed = (t: TraceReply) => t.results.length > 0 && t.results.every(probeOk) && !t.error;
  const reverseOk = !body.reverse || body.reverse.results.length === 0 || passed(body.reverse);
  return passed(body) && reverseOk ? 0 : 1;
}
