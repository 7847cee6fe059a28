/**
 * What a real Swarm needs from deploy/swarm/stack.yml (seen on the Swarm lab): passwords as
 * files from the service's own secrets (no shell wrapper), agents reachable by Prometheus on
 * NODE:9701, no option `docker stack deploy` ignores; the local image keeps the Dockerfile's
 * entrypoint and user.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { command as agentCommand } from '../../../agent/main.js';
import { command as collectorCommand } from '../../../collector/main.js';
import { parseCommand } from '../../../shared/config.js';

// biome-ignore lint/suspicious/noExplicitAny: YAML documents
type J = any;
const stack = parse(readFileSync('deploy/swarm/stack.yml', 'utf8'), { merge: true }) as {
  services: Record<string, J>;
};
const secretTargets = (svc: J): string[] =>
  (svc.secrets ?? []).map((s: J) => (typeof s === 'string' ? s : (s.target ?? s.source)));

test('swarm: NATS passwords come from the service own secrets via --nats-password-file, no sh -c', () => {
  for (const name of ['agent', 'collector']) {
    const svc = stack.services[name];
    assert.equal(svc.entrypoint, undefined, `${name}: the image's entrypoint (tini -- vxdoctor)`);
    const args = svc.command as string[];
    const pw = args.find((a) => a.startsWith('--nats-password-file='));
    assert.ok(pw, `${name} passes --nats-password-file`);
    const file = pw.split('=')[1]!;
    assert.match(file, /^\/run\/secrets\//);
    assert.ok(secretTargets(svc).includes(file.replace('/run/secrets/', '')), `${name} mounts ${file}`);
    assert.ok(
      !args.some((a) => a.startsWith('--nats-password=')),
      `${name}: no password on the command line`,
    );
    // The real CLI accepts the command (and reads the flag as the password file).
    const spec = name === 'agent' ? agentCommand : collectorCommand;
    const env: Record<string, string> = name === 'agent' ? { VXDOCTOR_NODE: 'n1' } : {};
    const parsed = parseCommand(spec, args.slice(1), env);
    assert.equal(parsed.values['nats-password-file'], file);
  }
});

test('swarm: agents listen on every node address :9701, the port the agent scrape job uses', () => {
  const listen = (stack.services.agent.command as string[]).find((a) => a.startsWith('--listen='));
  assert.equal(listen, '--listen=0.0.0.0:9701');
  const prom = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as J;
  const job = prom.scrape_configs.find((j: J) => j.job_name === 'vxdoctor-agent');
  const targets: string[] = job.static_configs.flatMap((s: J) => s.targets);
  assert.ok(targets.length > 0 && targets.every((t) => t.endsWith(':9701')), targets.join());
});

test('swarm: no option docker stack deploy ignores (security_opt)', () => {
  for (const [name, svc] of Object.entries(stack.services))
    assert.equal(
      (svc as J).security_opt,
      undefined,
      `${name}: security_opt is ignored by docker stack deploy`,
    );
});

test('the registry-free image keeps the Dockerfile entrypoint, user and ports', () => {
  const pick = (f: string) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => /^(ENTRYPOINT|USER|EXPOSE|WORKDIR) /.test(l));
  assert.deepEqual(pick('deploy/docker/Dockerfile.local'), pick('deploy/docker/Dockerfile').slice(-4));
});
