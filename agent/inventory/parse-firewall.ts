/**
 * Pure parsers of firewall state: `nft -j list ruleset` (native nftables and iptables-nft) and
 * `iptables-save` (legacy backend). Only rules touching overlay/control ports are kept.
 */
import type { FirewallRule } from '../../shared/schema.js';

/** Overlay and Swarm control ports per protocol: VXLAN data (4789 Docker, 8472 flannel), gossip, management. */
export const WATCHED_PORTS: Record<'udp' | 'tcp', readonly number[]> = {
  udp: [4789, 8472, 7946],
  tcp: [7946, 2377],
};

export interface FirewallParse {
  rules: FirewallRule[];
  policies: Record<string, string>;
  /** Rules whose matches nft could only show as opaque `xt` expressions (iptables-nft extensions). */
  opaqueRules: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

type Proto = 'udp' | 'tcp' | 'any';
/** Watched ports of `protocol` that `matches` accepts (protocol `any`: union of both). */
function watchedMatching(protocol: Proto, test: (p: number) => boolean): number[] {
  const pool =
    protocol === 'any' ? [...new Set([...WATCHED_PORTS.udp, ...WATCHED_PORTS.tcp])] : WATCHED_PORTS[protocol];
  return pool.filter(test).sort((a, b) => a - b);
}

/** Turns an nft JSON match right-hand side into a port membership test. */
function nftPortTest(right: unknown, sets: Map<string, unknown[]>): ((p: number) => boolean) | null {
  if (typeof right === 'number') return (p) => p === right;
  if (typeof right === 'string') {
    if (right.startsWith('@')) {
      const elems = sets.get(right.slice(1));
      return elems ? nftPortTest({ set: elems }, sets) : null;
    }
    const n = Number(right);
    return Number.isInteger(n) ? (p) => p === n : null;
  }
  if (isObj(right)) {
    if (Array.isArray(right.range) && right.range.length === 2) {
      const [lo, hi] = right.range as [unknown, unknown];
      if (typeof lo === 'number' && typeof hi === 'number') return (p) => p >= lo && p <= hi;
      return null;
    }
    if (Array.isArray(right.set)) {
      const tests = right.set.map((e) =>
        nftPortTest(isObj(e) && 'elem' in e ? (e.elem as Obj).val : e, sets),
      );
      if (tests.some((t) => t === null)) return null;
      return (p) => tests.some((t) => t?.(p));
    }
  }
  return null;
}

interface NftChain {
  hook: string | null;
  policy: string | null;
}

/** `nft -j list ruleset`. */
export function parseNftRuleset(json: unknown): FirewallParse {
  const items = isObj(json) && Array.isArray(json.nftables) ? json.nftables : [];
  const sets = new Map<string, unknown[]>();
  const chains = new Map<string, NftChain>();
  const policies: Record<string, string> = {};
  const key = (f: unknown, t: unknown, c: unknown) => `${String(f)} ${String(t)} ${String(c)}`;
  for (const it of items) {
    if (!isObj(it)) continue;
    if (isObj(it.set) && Array.isArray(it.set.elem)) {
      sets.set(String(it.set.name), it.set.elem);
    }
    if (isObj(it.chain)) {
      const c = it.chain;
      const hook = typeof c.hook === 'string' ? c.hook : null;
      const policy = typeof c.policy === 'string' ? c.policy : null;
      chains.set(key(c.family, c.table, c.name), { hook, policy });
      if (hook !== null && policy !== null && (hook === 'input' || hook === 'forward')) {
        policies[key(c.family, c.table, c.name)] = policy;
      }
    }
  }
  // Regular chains inherit the hook of the base chain that jumps (or goes) to them.
  const jumps = new Map<string, string[]>();
  for (const it of items) {
    if (!isObj(it) || !isObj(it.rule) || !Array.isArray(it.rule.expr)) continue;
    const r = it.rule;
    for (const e of r.expr as unknown[]) {
      const j = isObj(e) ? (e.jump ?? e.goto) : undefined;
      if (isObj(j) && typeof j.target === 'string') {
        const from = key(r.family, r.table, r.chain);
        jumps.set(from, [...(jumps.get(from) ?? []), key(r.family, r.table, j.target)]);
      }
    }
  }
  const inherited = new Map<string, string>();
  for (const [k, c] of chains) {
    if (c.hook === null) continue;
    const queue = [k];
    while (queue.length > 0) {
      const cur = queue.shift() as string;
      for (const next of jumps.get(cur) ?? []) {
        if (inherited.has(next) || chains.get(next)?.hook) continue;
        inherited.set(next, c.hook);
        queue.push(next);
      }
    }
  }
  const rules: FirewallRule[] = [];
  let opaqueRules = 0;
  for (const it of items) {
    if (!isObj(it) || !isObj(it.rule)) continue;
    const r = it.rule;
    const exprs = Array.isArray(r.expr) ? r.expr : [];
    let protocol: Proto = 'any';
    let portTest: ((p: number) => boolean) | null = null;
    let hasPortMatch = false;
    let unparsedPorts = false;
    let verdict: FirewallRule['verdict'] = 'other';
    let opaque = false;
    const l4 = (v: unknown) => (v === 'udp' || v === 'tcp' ? v : null);
    for (const e of exprs) {
      if (!isObj(e)) continue;
      if (isObj(e.match)) {
        const m = e.match;
        const left = isObj(m.left) ? m.left : {};
        const op = m.op === '!=' ? '!=' : '==';
        if (isObj(left.payload)) {
          const pl = left.payload;
          if (
            pl.field === 'dport' &&
            (pl.protocol === 'udp' || pl.protocol === 'tcp' || pl.protocol === 'th')
          ) {
            if (pl.protocol !== 'th') protocol = pl.protocol as Proto;
            const t = nftPortTest(m.right, sets);
            hasPortMatch = true;
            if (t === null) unparsedPorts = true;
            else portTest = op === '!=' ? (p) => !t(p) : t;
          } else if (pl.field === 'protocol' || pl.field === 'nexthdr') {
            protocol = (op === '==' ? l4(m.right) : null) ?? protocol;
          }
        } else if (isObj(left.meta) && left.meta.key === 'l4proto') {
          protocol = (op === '==' ? l4(m.right) : null) ?? protocol;
        }
      } else if (e.xt !== undefined) {
        opaque = true;
      } else if ('accept' in e) verdict = 'accept';
      else if ('drop' in e) verdict = 'drop';
      else if ('reject' in e) verdict = 'reject';
    }
    if (opaque) opaqueRules++;
    let dports: number[];
    if (hasPortMatch) {
      if (unparsedPorts || portTest === null) continue;
      dports = watchedMatching(protocol, portTest);
      if (dports.length === 0) continue;
    } else {
      // No port match: only protocol-level udp/tcp rules with a decision touch every port.
      if (protocol === 'any' || verdict === 'other' || opaque) continue;
      dports = [];
    }
    const chain = chains.get(key(r.family, r.table, r.chain));
    const verdictText = verdict === 'other' ? 'continue' : verdict;
    rules.push({
      source: 'nft',
      family: String(r.family),
      table: String(r.table),
      chain: String(r.chain),
      hook: chain?.hook ?? inherited.get(key(r.family, r.table, r.chain)) ?? null,
      verdict,
      protocol,
      dports,
      text: `${String(r.family)} ${String(r.table)} ${String(r.chain)}: ${protocol} dport ${dports.length ? `{ ${dports.join(', ')} }` : 'any'} ${verdictText}`,
    });
  }
  return { rules, policies, opaqueRules };
}

const BUILTIN_HOOKS: Record<string, string> = {
  INPUT: 'input',
  FORWARD: 'forward',
  OUTPUT: 'output',
  PREROUTING: 'prerouting',
  POSTROUTING: 'postrouting',
};

/** Port list of `--dport 1:2` / `--dports a,b:c` as a membership test. */
function iptPortTest(spec: string): (p: number) => boolean {
  const parts = spec.split(',').map((s) => {
    const [a, b] = s.split(':');
    const lo = a === '' || a === undefined ? 0 : Number(a);
    const hi = b === undefined ? lo : b === '' ? 65535 : Number(b);
    return [lo, hi] as const;
  });
  return (p) => parts.some(([lo, hi]) => p >= lo && p <= hi);
}

/** `table chain` -> hook inherited from the built-in chain that jumps to it (e.g. FORWARD -> DOCKER-USER). */
function iptablesHooks(text: string): Map<string, string> {
  const jumps = new Map<string, string[]>();
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    const m = /^-A (\S+) .*-[jg] (\S+)/.exec(line);
    if (m?.[1] && m[2]) {
      const from = `${table} ${m[1]}`;
      jumps.set(from, [...(jumps.get(from) ?? []), `${table} ${m[2]}`]);
    }
  }
  const out = new Map<string, string>();
  for (const [from] of jumps) {
    const hook = BUILTIN_HOOKS[from.split(' ')[1] ?? ''];
    if (!hook) continue;
    const queue = [from];
    while (queue.length > 0) {
      for (const next of jumps.get(queue.shift() as string) ?? []) {
        if (out.has(next) || BUILTIN_HOOKS[next.split(' ')[1] ?? '']) continue;
        out.set(next, hook);
        queue.push(next);
      }
    }
  }
  return out;
}

/**
 * `iptables-save` output. `onlyIf` keeps just the rules whose line passes it (used to add the
 * multiport rules nft shows as opaque `xt` matches without counting translated rules twice).
 */
export function parseIptablesSave(text: string, onlyIf?: (line: string) => boolean): FirewallParse {
  const hooks = iptablesHooks(text);
  let table = '';
  const rules: FirewallRule[] = [];
  const policies: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      table = line.slice(1);
      continue;
    }
    const pol = /^:(\S+) (ACCEPT|DROP) /.exec(line);
    if (pol?.[1] && table === 'filter' && (pol[1] === 'INPUT' || pol[1] === 'FORWARD')) {
      policies[`ip ${table} ${pol[1]}`] = pol[2]?.toLowerCase() ?? '';
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    if (onlyIf && !onlyIf(line)) continue;
    const tok = line.split(/\s+/);
    const chain = tok[1] ?? '';
    const arg = (flag: string) => {
      const i = tok.indexOf(flag);
      return i >= 0 ? (tok[i + 1] ?? null) : null;
    };
    const p = arg('-p');
    if (tok.includes('!')) continue; // negations: not worth guessing
    const protocol: Proto = p === 'udp' || p === 'tcp' ? p : 'any';
    const spec = arg('--dport') ?? arg('--dports') ?? arg('--destination-port') ?? arg('--destination-ports');
    const target = arg('-j');
    const verdict: FirewallRule['verdict'] =
      target === 'ACCEPT' ? 'accept' : target === 'DROP' ? 'drop' : target === 'REJECT' ? 'reject' : 'other';
    let dports: number[];
    if (spec !== null) {
      dports = watchedMatching(protocol, iptPortTest(spec));
      if (dports.length === 0) continue;
    } else {
      if (protocol === 'any' || verdict === 'other') continue;
      dports = [];
    }
    rules.push({
      source: 'iptables',
      family: 'ip',
      table,
      chain,
      hook: BUILTIN_HOOKS[chain] ?? hooks.get(`${table} ${chain}`) ?? null,
      verdict,
      protocol,
      dports,
      text: `${table} ${line}`,
    });
  }
  return { rules, policies, opaqueRules: 0 };
}
