/**
 * Cross-file checks of the shipped deploy files: every flag (and VXDOCTOR_* variable) a manifest
 * or the Swarm stack passes exists in the real CLI; the stack validates against the Compose
 * specification schema; the Dockerfile installs every tool the agent runs; every alert has a
 * runbook and links it; every root-cause kind has an alert.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { command as agentCommand, readProbeKey } from '../../../agent/main.js';
import { command as collectorCommand } from '../../../collector/main.js';
import { type CommandSpec, envName } from '../../../shared/config.js';
import { ROOT_CAUSE_KINDS } from '../../../shared/schema.js';
import { kustomizeResources } from './load.js';

// Parsed YAML is untyped; tests read it by path.
// biome-ignore lint/suspicious/noExplicitAny: manifest objects are arbitrary JSON
type J = any;

interface Invocation {
  where: string;
  sub: string;
  args: string[];
  env: string[];
}

function k8sInvocations(): Invocation[] {
  const out: Invocation[] = [];
  for (const o of kustomizeResources()) {
    const pod = (o.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined)?.template?.spec;
    for (const c of (pod?.containers ?? []) as {
      name: string;
      image: string;
      args?: string[];
      env?: { name: string }[];
    }[]) {
      if (!c.image.includes('vxdoctor')) continue;
      const [sub = '', ...args] = c.args ?? [];
      out.push({ where: `${o.kind}/${o.metadata.name}`, sub, args, env: (c.env ?? []).map((e) => e.name) });
    }
  }
  return out;
}

function swarmInvocations(): Invocation[] {
  const stack = parse(readFileSync('deploy/swarm/stack.yml', 'utf8')) as { services: Record<string, J> };
  const out: Invocation[] = [];
  for (const [name, s] of Object.entries(stack.services)) {
    if (!String(s.image).includes('vxdoctor')) continue;
    const [sub = '', ...args] = s.command as string[];
    out.push({ where: `swarm service ${name}`, sub, args, env: Object.keys(s.environment ?? {}) });
  }
  return out;
}

function flagNames(spec: CommandSpec): Set<string> {
  const names = new Set<string>();
  for (const f of spec.flags) {
    names.add(f.name);
    if (f.type === 'bool') names.add(`no-${f.name}`);
  }
  return names;
}

function checkInvocation(inv: Invocation, spec: CommandSpec): void {
  assert.equal(inv.sub, spec.name, `${inv.where}: subcommand`);
  assert.ok(
    spec.flags.length > 0,
    `${inv.where}: the ${spec.name} CLI (command in ${spec.name}/main.ts) declares no flags yet`,
  );
  const names = flagNames(spec);
  for (const a of inv.args) {
    assert.ok(a.startsWith('--'), `${inv.where}: "${a}" is not a --flag`);
    const name = a.slice(2).split('=')[0] as string;
    assert.ok(names.has(name), `${inv.where}: --${name} is not a flag of "vxdoctor ${spec.name}"`);
  }
  const envs = new Set(spec.flags.map((f) => envName(f.name)));
  for (const e of inv.env.filter((n) => n.startsWith('VXDOCTOR_'))) {
    assert.ok(envs.has(e), `${inv.where}: ${e} matches no flag of "vxdoctor ${spec.name}"`);
  }
}

const SPECS: Record<string, CommandSpec> = { agent: agentCommand, collector: collectorCommand };

test('manifests and the stack start both subcommands', () => {
  const subs = [...k8sInvocations(), ...swarmInvocations()].map((i) => i.sub).sort();
  assert.deepEqual(subs, ['agent', 'agent', 'collector', 'collector']);
});

test('every collector flag/env the deploy files pass exists in collector/main.ts', () => {
  for (const inv of [...k8sInvocations(), ...swarmInvocations()].filter((i) => i.sub === 'collector'))
    checkInvocation(inv, collectorCommand);
});

test('every agent flag/env the deploy files pass exists in agent/main.ts', () => {
  for (const inv of [...k8sInvocations(), ...swarmInvocations()].filter((i) => i.sub === 'agent'))
    checkInvocation(inv, agentCommand);
});

test('the flag check rejects an unknown flag (it can fail)', () => {
  const spec: CommandSpec = {
    name: 'agent',
    usage: '',
    summary: '',
    flags: [{ name: 'node', type: 'string', help: '' }],
  };
  assert.throws(
    () => checkInvocation({ where: 't', sub: 'agent', args: ['--node=x', '--bogus=1'], env: [] }, spec),
    /--bogus/,
  );
  assert.throws(
    () => checkInvocation({ where: 't', sub: 'agent', args: [], env: ['VXDOCTOR_BOGUS'] }, spec),
    /VXDOCTOR_BOGUS/,
  );
  assert.ok(SPECS.agent && SPECS.collector);
});

/** Bytes from a Kubernetes quantity (96Mi) or a Compose/Docker size (96M: Docker sizes are binary). */
function bytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G|k|m|g)?$/.exec(String(q));
  assert.ok(m, `size ${q}`);
  const unit = (m[2] ?? '').toUpperCase().replace('I', '');
  return Number(m[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1);
}

/** CPU cores from a Kubernetes quantity (200m) or a Compose value ("0.2"). */
const cores = (q: string) => (String(q).endsWith('m') ? Number(String(q).slice(0, -1)) / 1000 : Number(q));

test('swarm agent: same resources, --proc-root and host /proc mount as the Kubernetes DaemonSet', () => {
  const stack = parse(readFileSync('deploy/swarm/stack.yml', 'utf8')) as { services: Record<string, J> };
  const svc = stack.services.agent;
  const ds = kustomizeResources().find((o) => o.kind === 'DaemonSet') as J;
  const c = ds.spec.template.spec.containers[0];
  const res = svc.deploy.resources;
  assert.equal(bytes(res.limits.memory), bytes(c.resources.limits.memory), 'memory limit');
  assert.equal(bytes(res.reservations.memory), bytes(c.resources.requests.memory), 'memory reservation');
  assert.equal(cores(res.limits.cpus), cores(c.resources.limits.cpu), 'cpu limit');
  assert.equal(cores(res.reservations.cpus), cores(c.resources.requests.cpu), 'cpu reservation');
  const procRoot = (svc.command as string[]).find((a) => a.startsWith('--proc-root='))?.split('=')[1];
  const mount = (svc.volumes as J[]).find((v) => v.source === '/proc');
  assert.ok(mount?.read_only, 'host /proc mounted read-only');
  assert.equal(procRoot, mount.target, '--proc-root is where the host /proc is mounted');
  assert.equal(bytes('96Mi'), bytes('96M'));
  assert.notEqual(bytes('128M'), bytes('192Mi'));
});

test('swarm: --js-replicas of agent and collector match the stack NATS (one server)', () => {
  const stack = parse(readFileSync('deploy/swarm/stack.yml', 'utf8')) as { services: Record<string, J> };
  const natsReplicas = stack.services.nats.deploy.replicas;
  for (const name of ['agent', 'collector']) {
    const arg = (stack.services[name].command as string[]).find((a) => a.startsWith('--js-replicas='));
    assert.equal(Number(arg?.split('=')[1] ?? 1), natsReplicas, `${name} --js-replicas`);
  }
});

test('swarm stack validates against the Compose specification schema (dclint ships it)', () => {
  // dclint's package "exports" hide the file from require.resolve; read it from its package root.
  const root = dirname(dirname(createRequire(import.meta.url).resolve('dclint')));
  const schemaPath = [
    join(root, 'schemas/compose.schema.json'),
    'node_modules/dclint/schemas/compose.schema.json',
  ].find((p) => existsSync(p));
  assert.ok(schemaPath, 'dclint/schemas/compose.schema.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  // It names draft-07 as "https://json-schema.org/draft-07/schema", which Ajv (draft-07 built in
  // as http://...#) does not know by that id; the schema body is plain draft-07.
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile<J>(schema);
  const stack: J = parse(readFileSync('deploy/swarm/stack.yml', 'utf8'), { merge: true });
  assert.ok(validate(stack), JSON.stringify(validate.errors, null, 1));
  const broken = structuredClone(stack);
  broken.services.agent.capabilities = ['NET_ADMIN'];
  assert.equal(validate(broken), false, 'schema rejects an unknown service key');
  const agent = stack.services.agent;
  assert.equal(agent.deploy.mode, 'global');
  assert.deepEqual(agent.networks, ['hostnet']);
  assert.equal(stack.networks.hostnet.name, 'host');
  assert.equal(stack.networks.hostnet.external, true);
  assert.deepEqual([...agent.cap_add].sort(), ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN']);
  assert.equal(agent.privileged, undefined);
  const targets = agent.volumes.map((v: { target: string }) => v.target);
  for (const t of ['/var/run/netns', '/var/run/docker/netns', '/host/proc'])
    assert.ok(targets.includes(t), t);
  // The probe key is mounted so that the agent accepts it: its own mode check on a real file.
  const key = agent.secrets.find((x: J) => x.source === 'vxdoctor_probe_key');
  assert.ok(key, 'probe key secret in long form (with a mode)');
  assert.equal(key.target, 'vxdoctor_probe_key', 'mounted where --probe-key-file points');
  const file = join(mkdtempSync(join(tmpdir(), 'vxd-stack-')), 'vxdoctor_probe_key');
  writeFileSync(file, 'k'.repeat(32));
  chmodSync(file, key.mode);
  assert.equal(readProbeKey(file).length, 32);
  chmodSync(file, 0o444); // Swarm's default for a short-form secret
  assert.throws(() => readProbeKey(file), /world-readable/);
  rmSync(dirname(file), { recursive: true });
});

// Tool -> Debian package that provides it (bookworm).
const TOOL_PACKAGE: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  nft: 'nftables',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  'ip6tables-save': 'iptables',
  ethtool: 'ethtool',
  sysctl: 'procps',
  nsenter: 'util-linux',
  fping: 'fping',
};

function agentTools(): Set<string> {
  const tools = new Set(['ip', 'bridge', 'nft', 'iptables-save', 'ethtool', 'sysctl', 'nsenter', 'fping']);
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
    );
  for (const f of walk('agent')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/runner\(\s*'([a-z0-9_-]+)'/g))
      tools.add(m[1] as string);
  }
  return tools;
}

function finalStagePackages(dockerfile: string): Set<string> {
  const stages = dockerfile.split(/^FROM /m);
  const final = stages[stages.length - 1] as string;
  const joined = final.replace(/\\\n/g, ' ');
  const pkgs = new Set<string>();
  for (const m of joined.matchAll(/apt-get install ([^&\n]*)/g))
    for (const w of (m[1] as string).split(/\s+/)) if (w && !w.startsWith('-')) pkgs.add(w);
  return pkgs;
}

test('the Dockerfile final stage installs every tool the agent runs, plus libpcap', () => {
  const df = readFileSync('deploy/docker/Dockerfile', 'utf8');
  assert.match(df, /^FROM node:20-bookworm-slim AS build/m);
  assert.match(df, /libpcap-dev/);
  assert.match(df, /npm prune --omit=dev|npm ci --omit=dev/);
  const pkgs = finalStagePackages(df);
  assert.ok(pkgs.has('libpcap0.8'), 'libpcap0.8');
  for (const tool of agentTools()) {
    const pkg = TOOL_PACKAGE[tool];
    assert.ok(pkg, `agent runs "${tool}": add it to TOOL_PACKAGE and the Dockerfile`);
    assert.ok(pkgs.has(pkg), `Dockerfile final stage lacks ${pkg} (for ${tool}); has ${[...pkgs].join(' ')}`);
  }
  assert.equal(
    finalStagePackages('FROM a AS b\nRUN apt-get install -y x\nFROM c\nRUN apt-get install -y y').has('x'),
    false,
  );
});

const rules = parse(readFileSync('deploy/prometheus/vxdoctor-rules.yml', 'utf8')) as {
  groups: {
    rules: {
      alert: string;
      expr: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }[];
  }[];
};
const alerts = rules.groups.flatMap((g) => g.rules);

test('every alert: Vxdoctor name, severity, summary/description, runbook_url to an existing runbook', () => {
  const runbooks = new Set(readdirSync('docs/runbooks'));
  for (const a of alerts) {
    assert.match(a.alert, /^Vxdoctor[A-Z]\w+$/);
    assert.ok(['critical', 'warning', 'info'].includes(a.labels.severity as string), `${a.alert} severity`);
    assert.ok(a.annotations.summary && a.annotations.description, `${a.alert} annotations`);
    assert.ok(a.annotations.runbook_url?.endsWith(`docs/runbooks/${a.alert}.md`), `${a.alert} runbook_url`);
    assert.ok(runbooks.has(`${a.alert}.md`), `docs/runbooks/${a.alert}.md exists`);
    const text = readFileSync(`docs/runbooks/${a.alert}.md`, 'utf8');
    assert.match(
      text,
      /## What it means[\s\S]*## What to check[\s\S]*## How to fix/,
      `${a.alert} runbook sections`,
    );
  }
  for (const name of [
    'VxdoctorAgentDown',
    'VxdoctorCollectorAbsent',
    'VxdoctorIngestRejecting',
    'VxdoctorWatchdog',
  ]) {
    assert.ok(
      alerts.some((a) => a.alert === name),
      name,
    );
  }
});

test('every root-cause kind has an alert', () => {
  for (const kind of ROOT_CAUSE_KINDS) {
    const covered =
      alerts.some((a) => a.expr.includes(`kind="${kind}"`)) ||
      (kind === 'agent-down' && alerts.some((a) => a.expr.includes('vxdoctor_agent_up')));
    assert.ok(covered, `no alert for root-cause kind ${kind}`);
  }
});

test('the promtool tests cover every alert both firing and not firing', () => {
  const t = parse(readFileSync('deploy/prometheus/vxdoctor-rules.test.yml', 'utf8')) as {
    tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
  };
  const cases = t.tests.flatMap((x) => x.alert_rule_test ?? []);
  for (const a of alerts) {
    const mine = cases.filter((c) => c.alertname === a.alert);
    assert.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${a.alert}: a promtool case where it fires`,
    );
    if (a.alert !== 'VxdoctorWatchdog')
      assert.ok(
        mine.some((c) => c.exp_alerts.length === 0),
        `${a.alert}: a promtool case where it does not fire`,
      );
  }
});

test('HA-safe rules: vxdoctor gauges are folded across collector replicas with max, never summed', () => {
  for (const a of alerts) {
    if (!/vxdoctor_/.test(a.expr)) continue;
    assert.doesNotMatch(a.expr, /\b(sum|count)\s*(by|without|\()/, `${a.alert}: sum/count over replicas`);
    assert.match(a.expr, /\bmax by \(/, `${a.alert}: max by (...) over replicas`);
  }
  // Root-cause alerts keep the place labels, and their annotations name it and link the page.
  for (const a of alerts.filter((x) => x.expr.includes('vxdoctor_rootcause{'))) {
    for (const l of ['node', 'nodes', 'from', 'to', 'group_label', 'page'])
      assert.match(a.expr, new RegExp(`max by \\([^)]*\\b${l}\\b`), `${a.alert} keeps ${l}`);
    const ann = (a as unknown as { annotations: Record<string, string> }).annotations;
    assert.match(ann.summary ?? '', /\$labels\.from/, `${a.alert}: summary names the place`);
    assert.equal(ann.rootcause_url, '{{ $labels.page }}');
  }
});

test('Alertmanager groups by labels the alerts carry; inhibitions are scoped to the same node or segment', () => {
  const am = parse(readFileSync('deploy/alertmanager/alertmanager.yml', 'utf8')) as J;
  const rcLabels = new Set([
    'alertname',
    'id',
    'kind',
    'scope',
    'node',
    'nodes',
    'from',
    'to',
    'group_label',
    'page',
    'severity',
    'reason',
  ]);
  for (const l of am.route.group_by) assert.ok(rcLabels.has(l), `group_by ${l}: no alert carries it`);
  for (const r of am.inhibit_rules) {
    const src = r.source_matchers.join(' ');
    if (/VxdoctorCollectorAbsent/.test(src)) continue;
    assert.ok(
      r.equal.includes('node') || ['group_label', 'from', 'to'].every((l) => r.equal.includes(l)),
      `inhibition from ${src} is scoped to a node or segment: equal ${r.equal}`,
    );
  }
});
