/**
 * An agent's clean stop removes its presence record, against a real nats-server (no root): but
 * only the record it wrote. When another agent for the same node has written since (a restart
 * that overlapped, a rolling update), the old one's stop leaves the new record alone; before,
 * it deleted it and the collector marked the node down until the next refresh (seen in the
 * Swarm e2e as a spurious `agent-down`). Dotted node names are deleted by their token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Presence } from '../../../agent/publish/presence.js';
import { silentLogger } from '../../../shared/logging.js';
import type { NodePresence } from '../../../shared/schema.js';
import { SCHEMA_VERSION } from '../../../shared/schema.js';
import { nodeToken, KV_NODES } from '../../../shared/subjects.js';
import { NatsServer } from '../../e2e/harness.js';

const record = (node: string, version: string): NodePresence => ({
  schemaVersion: SCHEMA_VERSION,
  node,
  labels: { rack: 'r1' },
  version,
  at: Date.now(),
  underlay: ['10.9.0.1'],
  probePort: 7999,
  vteps: [],
  overlayEndpoints: [],
});

describe('presence on a clean stop', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await NatsServer.start('nats-server-presence-stop');
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc?.close();
    await server?.destroy();
  });
  const presence = (node: string) =>
    new Presence({ nc, node, ttlMs: 30_000, log: silentLogger(), onPeers: () => undefined });
  const current = async (node: string): Promise<string | null> => {
    const kv = await new Kvm(nc).open(KV_NODES);
    const e = await kv.get(nodeToken(node));
    return e && e.operation === 'PUT' ? (JSON.parse(e.string()) as NodePresence).version : null;
  };

  for (const node of ['wrk-7', 'ip-10-0-1-5.ec2.internal']) {
    it(`${node}: the stop deletes its own record, not a newer agent's`, async () => {
      const old = presence(node);
      await old.put(record(node, 'old'));
      assert.equal(await current(node), 'old');
      // Alone: the stop removes it.
      await old.stop(true);
      assert.equal(await current(node), null, 'own record deleted');

      const first = presence(node);
      await first.put(record(node, 'first'));
      const second = presence(node);
      await second.put(record(node, 'second')); // the new incarnation writes while the old runs
      await first.stop(true);
      assert.equal(await current(node), 'second', "the old agent's stop left the new record");
      await second.stop(true);
      assert.equal(await current(node), null);
    });
  }
});
