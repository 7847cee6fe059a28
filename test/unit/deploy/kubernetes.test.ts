/**
 * Kubernetes manifests: every object validates against the Kubernetes API schemas
 * (kubernetes-models; the Prometheus Operator CRDs with @kubernetes-models/prometheus-operator), the
 * PrometheusRule equals the generator's output from the promtool-tested rules file, and the
 * agent's security settings are what docs/security.md promises.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse } from 'yaml';
import { renderPrometheusRule } from '../../../deploy/kubernetes/gen-prometheusrule.js';
import { authSecrets, generateAuth } from '../../../deploy/kubernetes/nats-auth.js';
import { type K8sObject, kubectlKustomize, kustomizeResources, parseObjects } from './load.js';

// Parsed YAML is untyped; tests read it by path.
// biome-ignore lint/suspicious/noExplicitAny: manifest objects are arbitrary JSON
type J = any;

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};
const CLUSTER_SCOPED = ['Namespace', 'ClusterRole', 'ClusterRoleBinding'];
const RECOMMENDED = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
];

const K8S_DIR_NAME = 'deploy/kubernetes';
const objects = kustomizeResources(K8S_DIR_NAME);
const byKind = (kind: string, name?: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `${kind} ${name ?? ''} present`);
  return o;
};

test('kustomization lists resources that exist and parse', () => {
  assert.ok(objects.length >= 15, `found ${objects.length} objects`);
  const kinds = new Set(objects.map((o) => o.kind));
  for (const k of [
    'Namespace',
    'DaemonSet',
    'Deployment',
    'StatefulSet',
    'Service',
    'PodDisruptionBudget',
    'NetworkPolicy',
    'ServiceMonitor',
    'PodMonitor',
    'PrometheusRule',
    'ConfigMap',
  ]) {
    assert.ok(kinds.has(k), `kind ${k}`);
  }
});

test('every object validates against the Kubernetes API / Prometheus Operator CRD schema', () => {
  for (const o of objects) {
    const key = `${o.apiVersion}/${o.kind}`;
    const Model = MODELS[key];
    assert.ok(Model, `no schema model for ${key} (${o.metadata.name})`);
    assert.doesNotThrow(() => new Model(o as never).validate(), `${key} ${o.metadata.name}`);
  }
});

const validateAll = (objs: K8sObject[], where: string): void => {
  for (const o of objs) {
    const key = `${o.apiVersion}/${o.kind}`;
    const Model = MODELS[key];
    assert.ok(Model, `${where}: no schema model for ${key} (${o.metadata.name})`);
    assert.doesNotThrow(() => new Model(o as never).validate(), `${where}: ${key} ${o.metadata.name}`);
  }
};

/**
 * The variants install-kubernetes.md documents: the committed ones, and every overlay it writes
 * with `cat > DIR/kustomization.yaml <<'X'` (built from a scratch directory where
 * `../deploy` is this repository's deploy/, as in the doc's working directory).
 */
function documentedOverlays(): { dir: string; text: string }[] {
  const md = readFileSync('docs/install-kubernetes.md', 'utf8');
  return [...md.matchAll(/cat > ([\w./-]+)\/kustomization\.yaml <<'X'\n([\s\S]*?)\nX\n/g)].map((m) => ({
    dir: m[1] as string,
    text: m[2] as string,
  }));
}

test('kubectl kustomize builds the base, deploy/kubernetes-no-operator and every documented overlay; all validate', () => {
  validateAll(objects, K8S_DIR_NAME);
  const noOp = kustomizeResources('deploy/kubernetes-no-operator');
  validateAll(noOp, 'no-operator');
  assert.deepEqual(
    noOp.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/')).map((o) => o.kind),
    [],
  );
  assert.equal(noOp.length, objects.length - 3, 'only the three operator objects removed');
  const overlays = documentedOverlays();
  assert.ok(overlays.length >= 1, 'install-kubernetes.md shows at least one overlay');
  const root = mkdtempSync(join(tmpdir(), 'vxd-kustomize-'));
  try {
    symlinkSync(resolve('deploy'), join(root, 'deploy'));
    for (const ov of overlays) {
      mkdirSync(join(root, ov.dir), { recursive: true });
      writeFileSync(join(root, ov.dir, 'kustomization.yaml'), `${ov.text}\n`);
      const built = parseObjects(kubectlKustomize(join(root, ov.dir)), ov.dir);
      validateAll(built, ov.dir);
      // One install: an overlay changes settings, it never adds a second NATS, collector or agent set.
      // and keeps the base's names (a nameSuffix per rack would make one install per rack).
      const names = (objs: K8sObject[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      assert.deepEqual(names(built), names(objects), `${ov.dir}: the base's objects, no more`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the build is the real kubectl: YAML its parser refuses fails here too', () => {
  const root = mkdtempSync(join(tmpdir(), 'vxd-kustomize-bad-'));
  try {
    cpSync(K8S_DIR_NAME, join(root, 'k'), { recursive: true });
    const f = join(root, 'k', 'nats.yaml');
    // The flow mapping the issue reported: `?` in an unquoted flow scalar.
    writeFileSync(
      f,
      readFileSync(f, 'utf8').replace('"/healthz?js-enabled-only=true"', '/healthz?js-enabled-only=true'),
    );
    assert.throws(() => kubectlKustomize(join(root, 'k')), /kubectl kustomize .*(yaml|YAML)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the schema validation rejects a broken manifest (the check can fail)', () => {
  const ds = structuredClone(byKind('DaemonSet'));
  (ds.spec as { template: { spec: { hostNetwork: unknown } } }).template.spec.hostNetwork = 'yes';
  assert.throws(() => new DaemonSet(ds as never).validate());
  // The operator's CRDs too: a misspelt field and a wrong type are refused.
  const sm = structuredClone(byKind('ServiceMonitor')) as J;
  sm.spec.endpoints[0].interval = 5;
  assert.throws(() => new ServiceMonitor(sm).validate());
  const pm = structuredClone(byKind('PodMonitor')) as J;
  pm.spec.podMetricsEndpoints[0].relabelings[0].action = 'rename';
  assert.throws(() => new PodMonitor(pm).validate());
  const pr = structuredClone(byKind('PrometheusRule')) as J;
  pr.spec.groups[0].rules[0].for = 10;
  assert.throws(() => new PrometheusRule(pr).validate());
});

test('generated Secrets (nats-auth.ts) validate and are what the pods mount (one agent identity)', () => {
  const secrets = authSecrets(generateAuth()) as J[];
  for (const s of secrets) assert.doesNotThrow(() => new Secret(s as never).validate());
  const pod = (byKind('DaemonSet', 'vxdoctor-agent').spec as J).template.spec;
  const c = pod.containers[0];
  const seedPath = argOf(c.args, 'nats-nkey-seed-file') ?? '';
  assert.doesNotMatch(seedPath, /NODE_NAME/, 'no per-node seed file');
  const mount = c.volumeMounts.find((m: J) => seedPath.startsWith(`${m.mountPath}/`));
  const vol = pod.volumes.find((v: J) => v.name === mount?.name);
  const secret = secrets.find((s) => s.metadata.name === vol?.secret?.secretName);
  assert.ok(secret, `the seed volume's Secret ${vol?.secret?.secretName} is generated`);
  assert.ok(Object.keys(secret.stringData).includes(seedPath.slice(mount.mountPath.length + 1)));
  assert.match(secret.stringData['agent.nk'], /^SU/);
});

test('namespace vxdoctor and recommended labels on every object and pod template', () => {
  for (const o of objects) {
    if (!CLUSTER_SCOPED.includes(o.kind))
      assert.equal(o.metadata.namespace, 'vxdoctor', `${o.kind}/${o.metadata.name} namespace`);
    for (const l of RECOMMENDED) assert.ok(o.metadata.labels?.[l], `${o.kind}/${o.metadata.name} label ${l}`);
    const tpl = (o.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)
      ?.template;
    if (tpl)
      for (const l of RECOMMENDED)
        assert.ok(tpl.metadata?.labels?.[l], `${o.kind}/${o.metadata.name} pod label ${l}`);
  }
});

test('agent RBAC: get on nodes and nothing else, bound to the agent ServiceAccount only', () => {
  const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
  assert.deepEqual(
    roles.map((r) => r.rules),
    [[{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]],
  );
  const b = byKind('ClusterRoleBinding', 'vxdoctor-agent') as J;
  assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: 'vxdoctor-agent', namespace: 'vxdoctor' }]);
  assert.equal(b.roleRef.name, 'vxdoctor-agent');
  const ds = byKind('DaemonSet', 'vxdoctor-agent').spec as J;
  const env = Object.fromEntries(ds.template.spec.containers[0].env.map((e: J) => [e.name, e]));
  assert.equal(env.VXDOCTOR_LABEL_FROM_NODE.valueFrom.configMapKeyRef.key, 'label-from-node');
  const cm = byKind('ConfigMap', 'vxdoctor-agent').data as Record<string, string>;
  const group = cm['group-label'];
  assert.ok(
    (cm['label-from-node'] ?? '').split(',').some((m) => m.split('=')[0] === group),
    'the group label is read from the Node',
  );
  // The collector draws segments between values of the same label.
  const col = (byKind('Deployment', 'vxdoctor-collector').spec as J).template.spec.containers[0];
  const colEnv = Object.fromEntries(col.env.map((e: J) => [e.name, e]));
  assert.deepEqual(colEnv.VXDOCTOR_GROUP_LABEL.valueFrom.configMapKeyRef, {
    name: 'vxdoctor-agent',
    key: 'group-label',
  });
  assert.equal(argOf(col.args, 'group-label'), undefined);
  for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet'))
    assert.equal(
      (o.spec as J).template.spec.automountServiceAccountToken,
      false,
      `${o.metadata.name} has no token`,
    );
});

test('selectors match their pod templates; Services select existing pods', () => {
  const workloads = objects.filter((o) => ['DaemonSet', 'Deployment', 'StatefulSet'].includes(o.kind));
  const podLabels = workloads.map(
    (w) =>
      (w.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels,
  );
  const matches = (sel: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(sel).every(([k, v]) => labels[k] === v);
  for (const w of workloads) {
    const spec = w.spec as {
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string> } };
    };
    assert.ok(
      matches(spec.selector.matchLabels, spec.template.metadata.labels),
      `${w.kind}/${w.metadata.name}`,
    );
  }
  for (const s of objects.filter((o) => o.kind === 'Service' || o.kind === 'PodDisruptionBudget')) {
    const sel =
      s.kind === 'Service'
        ? (s.spec as { selector: Record<string, string> }).selector
        : (s.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    assert.ok(
      podLabels.some((l) => matches(sel, l)),
      `${s.kind}/${s.metadata.name} selects pods`,
    );
  }
});

test('agent DaemonSet: host network, never privileged, three capabilities, mounts, probes, resources', () => {
  const ds = byKind('DaemonSet', 'vxdoctor-agent').spec as J;
  const pod = ds.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.equal(pod.priorityClassName, 'system-node-critical');
  assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  const c = pod.containers[0];
  assert.notEqual(c.securityContext.privileged, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.deepEqual([...c.securityContext.capabilities.add].sort(), ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN']);
  const mounts = Object.fromEntries(c.volumeMounts.map((m: J) => [m.mountPath, m]));
  for (const p of ['/var/run/netns', '/var/run/docker/netns'])
    assert.equal(mounts[p]?.mountPropagation, 'HostToContainer', p);
  const vols = Object.fromEntries(pod.volumes.map((v: J) => [v.name, v]));
  const procMount = c.volumeMounts.find((m: J) => vols[m.name]?.hostPath?.path === '/proc');
  assert.ok(procMount?.readOnly, 'host /proc mounted read-only');
  const env = Object.fromEntries(c.env.map((e: J) => [e.name, e]));
  assert.equal(env.NODE_NAME.valueFrom.fieldRef.fieldPath, 'spec.nodeName');
  assert.ok(c.args.includes('--node=$(NODE_NAME)'));
  assert.deepEqual(c.resources, {
    requests: { cpu: '20m', memory: '96Mi' },
    limits: { cpu: '200m', memory: '192Mi' },
  });
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.livenessProbe.httpGet.port, 9701);
  assert.ok(
    c.args.some((a: string) => /^--listen=\$\(POD_IP\):9701$/.test(a)),
    'agent listens on the pod (= node) IP :9701',
  );
  assert.equal(env.POD_IP.valueFrom.fieldRef.fieldPath, 'status.podIP');
  // The agent reads the host's /proc where it is mounted.
  const procRoot = c.args.find((a: string) => a.startsWith('--proc-root='))?.split('=')[1];
  assert.equal(procRoot, procMount.mountPath, '--proc-root is where the host /proc is mounted');
});

/** The value of `--name=V` in a container's args. */
const argOf = (args: string[], name: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

test('JetStream replicas: agent and collector create stream and buckets with the NATS cluster size', () => {
  const natsReplicas = (byKind('StatefulSet', 'vxdoctor-nats').spec as J).replicas;
  for (const [kind, name] of [
    ['DaemonSet', 'vxdoctor-agent'],
    ['Deployment', 'vxdoctor-collector'],
  ] as const) {
    const args = (byKind(kind, name).spec as J).template.spec.containers[0].args as string[];
    assert.equal(Number(argOf(args, 'js-replicas')), natsReplicas, `${name} --js-replicas`);
  }
});

test('PodMonitor scrapes every agent on its node address (port http = the --listen port)', () => {
  const pm = byKind('PodMonitor', 'vxdoctor-agent') as J;
  const ds = byKind('DaemonSet', 'vxdoctor-agent') as J;
  const pod = ds.spec.template;
  assert.ok(
    Object.entries(pm.spec.selector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v),
    'selects the agent pods',
  );
  assert.ok(
    !objects.some(
      (o) =>
        o.kind === 'Deployment' &&
        Object.entries(pm.spec.selector.matchLabels).every(
          ([k, v]) => (o.spec as J).template.metadata.labels[k] === v,
        ),
    ),
    'and not the collector',
  );
  const c = pod.spec.containers[0];
  const ep = pm.spec.podMetricsEndpoints[0];
  assert.equal(ep.path, '/metrics');
  const port = c.ports.find((p: J) => p.name === ep.port);
  assert.ok(port, `container port named ${ep.port}`);
  const listen = argOf(c.args, 'listen') ?? '';
  assert.equal(listen, `$(POD_IP):${port.containerPort}`, 'the agent listens where Prometheus scrapes');
  assert.equal(pod.spec.hostNetwork, true, 'pod IP = node IP');
});

test('collector durable: named per pod, removed by the server after --durable-inactive', () => {
  const args = (byKind('Deployment', 'vxdoctor-collector').spec as J).template.spec.containers[0]
    .args as string[];
  assert.match(argOf(args, 'durable') ?? '', /\$\(POD_NAME\)/);
  assert.ok(argOf(args, 'durable-inactive'), '--durable-inactive is set next to a per-pod durable');
});

test('collector: 2 replicas with a PDB, one durable consumer per replica', () => {
  const d = byKind('Deployment', 'vxdoctor-collector').spec as J;
  assert.equal(d.replicas, 2);
  const pdb = byKind('PodDisruptionBudget', 'vxdoctor-collector').spec as J;
  assert.equal(pdb.minAvailable, 1);
  assert.ok(
    d.template.spec.containers[0].args.some(
      (a: string) => a.includes('--durable=') && a.includes('$(POD_NAME)'),
    ),
  );
});

test('NATS: 3-replica JetStream cluster with TLS on clients and routes', () => {
  const sts = byKind('StatefulSet', 'vxdoctor-nats').spec as J;
  assert.equal(sts.replicas, 3);
  const conf = (byKind('ConfigMap', 'vxdoctor-nats-config').data as Record<string, string>)[
    'nats.conf'
  ] as string;
  assert.match(conf, /jetstream\s*\{/);
  assert.equal((conf.match(/tls\s*\{/g) ?? []).length, 2, 'client and cluster TLS blocks');
  assert.equal((conf.match(/nats:\/\/vxdoctor-nats-\d\.vxdoctor-nats-headless/g) ?? []).length, 3);
  assert.match(conf, /include "auth\/auth.conf"/);
});

test('ServiceMonitor scrapes the collector Service port; job name is the Service name', () => {
  const sm = byKind('ServiceMonitor') as J;
  const svc = byKind('Service', 'vxdoctor-collector') as J;
  assert.equal(svc.metadata.name, 'vxdoctor-collector', 'rules select job="vxdoctor-collector"');
  assert.equal(sm.spec.jobLabel, undefined);
  assert.ok(svc.spec.ports.some((p: J) => p.name === sm.spec.endpoints[0].port));
  assert.equal(sm.spec.endpoints[0].path, '/metrics');
  assert.ok(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v));
});

test('PrometheusRule equals the generator output from deploy/prometheus/vxdoctor-rules.yml', () => {
  const rulesText = readFileSync('deploy/prometheus/vxdoctor-rules.yml', 'utf8');
  const committed = readFileSync('deploy/kubernetes/prometheusrule.yaml', 'utf8');
  assert.equal(
    committed,
    renderPrometheusRule(rulesText),
    'run: npx tsx deploy/kubernetes/gen-prometheusrule.ts',
  );
  const pr = parse(committed) as J;
  assert.deepEqual(pr.spec.groups, (parse(rulesText) as J).groups);
  for (const g of pr.spec.groups)
    for (const r of g.rules) assert.ok(r.alert && r.expr && r.labels?.severity, `rule ${r.alert}`);
});
