/**
 * shared/nats.ts against a real nats-server (no root): the one NATS flag mapping both
 * commands use, and `isUnanswered` telling a request nobody answered (no responders, or a
 * subscriber that stays silent) from other failures by the client's error classes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { isUnanswered, natsSettings } from '../../shared/nats.js';
import { NatsServer } from '../e2e/harness.js';

describe('natsSettings: the NATS flags as connection settings', () => {
  it('maps every NATS flag, drops empty ones, reads the password file', () => {
    const s = natsSettings(
      {
        'nats-ca': '/etc/ca.pem',
        'nats-cert': '',
        'nats-user': 'agent-7',
        'nats-password': 'pw-9',
        'nats-creds-file': '/c.creds',
        'nats-nkey-seed-file': '/seed',
      },
      ['nats://n1:4222'],
      'vxdoctor-agent-x',
    );
    assert.deepEqual(s, {
      servers: ['nats://n1:4222'],
      name: 'vxdoctor-agent-x',
      ca: '/etc/ca.pem',
      user: 'agent-7',
      password: 'pw-9',
      credsFile: '/c.creds',
      nkeySeedFile: '/seed',
    });
    assert.deepEqual(natsSettings({}, ['h:1'], 'c'), { servers: ['h:1'], name: 'c' });
  });
});

describe('isUnanswered: a NATS request nobody answered', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await NatsServer.start('nats-server-unanswered');
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc?.close();
    await server?.destroy();
  });

  it('no responders on the subject', async () => {
    const err = await nc.request('vxd.nobody.here', 'x', { timeout: 2000 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err, 'the request fails');
    assert.equal(isUnanswered(err), true, String(err));
  });

  it('a subscriber that never answers (timeout)', async () => {
    const sub = nc.subscribe('vxd.silent');
    try {
      const err = await nc.request('vxd.silent', 'x', { timeout: 200 }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err, 'the request fails');
      assert.equal(isUnanswered(err), true, String(err));
    } finally {
      sub.unsubscribe();
    }
  });

  it('not other failures, whatever their message says', async () => {
    assert.equal(isUnanswered(new Error('timeout: 503 no responders')), false);
    assert.equal(isUnanswered('TIMEOUT'), false);
    const closed = await connect({ servers: server.url });
    await closed.close();
    const err = await closed.request('vxd.x', 'x', { timeout: 200 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err, 'a request on a closed connection fails');
    assert.equal(isUnanswered(err), false, String(err));
  });
});
