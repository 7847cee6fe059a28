import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseIptablesSave, parseNftRuleset } from '../../../agent/inventory/parse-firewall.js';

const fx = (f: string) =>
  readFileSync(new URL(`../../fixtures/inventory/lab-node/${f}`, import.meta.url), 'utf8');

test('nft: rules touching overlay ports, sets and ranges expanded, hooks and verdicts', () => {
  const p = parseNftRuleset(JSON.parse(fx('nft-ruleset.json')));
  const got = p.rules.map((r) => [
    r.family,
    r.table,
    r.chain,
    r.hook,
    r.protocol,
    r.dports.join(','),
    r.verdict,
  ]);
  assert.deepEqual(got, [
    ['inet', 'vxfilter', 'input', 'input', 'udp', '4789,8472', 'drop'], // anonymous set { 4789, 8472 }
    ['inet', 'vxfilter', 'input', 'input', 'tcp', '2377', 'accept'],
    ['inet', 'vxfilter', 'input', 'input', 'udp', '7946', 'other'], // range 7000-8000, counter only
    ['inet', 'vxfilter', 'input', 'input', 'udp', '4789,8472', 'reject'], // named set @overlay_ports
    ['inet', 'vxfilter', 'input', 'input', 'tcp', '7946', 'accept'], // th dport
    ['ip', 'filter', 'INPUT', 'input', 'udp', '4789', 'drop'], // iptables-nft rule
  ]);
  assert.ok(!p.rules.some((r) => r.dports.includes(22)), 'tcp 22 is not an overlay port');
  assert.deepEqual(p.policies, {
    'inet vxfilter input': 'accept',
    'inet vxfilter forward': 'drop',
    'ip filter INPUT': 'accept', // iptables-nft creates only the chains it uses
  });
  assert.equal(p.opaqueRules, 1, 'the iptables multiport rule is an opaque xt match');
  assert.match(p.rules[0]?.text ?? '', /udp dport \{ 4789, 8472 \} drop/);
});

test('nft: negated port match and rules without ports', () => {
  const rule = (expr: unknown[]) => ({ rule: { family: 'ip', table: 't', chain: 'c', expr } });
  const dport = (op: string, right: unknown, protocol = 'udp') => ({
    match: { op, left: { payload: { protocol, field: 'dport' } }, right },
  });
  const p = parseNftRuleset({
    nftables: [
      { chain: { family: 'ip', table: 't', name: 'c', hook: 'input', policy: 'drop', type: 'filter' } },
      rule([dport('!=', 53), { drop: null }]),
      rule([{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'udp' } }, { drop: null }]),
      rule([{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lo' } }, { accept: null }]),
      rule([dport('==', 80, 'tcp'), { accept: null }]),
    ],
  });
  assert.deepEqual(
    p.rules.map((r) => [r.protocol, r.dports, r.verdict]),
    [
      ['udp', [4789, 7946, 8472], 'drop'],
      ['udp', [], 'drop'],
    ],
  );
  assert.deepEqual(p.policies, { 'ip t c': 'drop' });
});

test('nft: rules in regular chains get the hook of the base chain that jumps to them', () => {
  const p = parseNftRuleset({
    nftables: [
      {
        chain: {
          family: 'inet',
          table: 'firewalld',
          name: 'filter_INPUT',
          hook: 'input',
          policy: 'accept',
          type: 'filter',
        },
      },
      { chain: { family: 'inet', table: 'firewalld', name: 'filter_IN_public' } },
      { chain: { family: 'inet', table: 'firewalld', name: 'filter_IN_public_allow' } },
      { chain: { family: 'inet', table: 'firewalld', name: 'orphan' } },
      {
        rule: {
          family: 'inet',
          table: 'firewalld',
          chain: 'filter_INPUT',
          expr: [{ jump: { target: 'filter_IN_public' } }],
        },
      },
      {
        rule: {
          family: 'inet',
          table: 'firewalld',
          chain: 'filter_IN_public',
          expr: [{ goto: { target: 'filter_IN_public_allow' } }],
        },
      },
      {
        rule: {
          family: 'inet',
          table: 'firewalld',
          chain: 'filter_IN_public_allow',
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 4789 } },
            { accept: null },
          ],
        },
      },
      {
        rule: {
          family: 'inet',
          table: 'firewalld',
          chain: 'orphan',
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 8472 } },
            { drop: null },
          ],
        },
      },
    ],
  });
  assert.deepEqual(
    p.rules.map((r) => [r.chain, r.hook, r.verdict]),
    [
      ['filter_IN_public_allow', 'input', 'accept'],
      ['orphan', null, 'drop'],
    ],
  );
});

test('nft: empty or odd input yields no rules', () => {
  assert.deepEqual(parseNftRuleset({}).rules, []);
  assert.deepEqual(parseNftRuleset(null).rules, []);
});

test('iptables-save (legacy): ports, multiport, ranges, policies', () => {
  const p = parseIptablesSave(fx('iptables-legacy-save.txt'));
  assert.deepEqual(
    p.rules.map((r) => [r.chain, r.hook, r.protocol, r.dports.join(','), r.verdict]),
    [
      ['INPUT', 'input', 'udp', '4789', 'drop'],
      ['INPUT', 'input', 'tcp', '2377,7946', 'reject'],
      ['FORWARD', 'forward', 'udp', '8472', 'accept'], // --dport 8000:9000
    ],
  );
  assert.ok(p.rules.every((r) => r.source === 'iptables'));
  assert.deepEqual(p.policies, { 'ip filter INPUT': 'accept', 'ip filter FORWARD': 'drop' });
});

test('iptables-save: user chains inherit the hook of the built-in chain jumping to them', () => {
  const text = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':DOCKER-USER - [0:0]',
    ':UNUSED - [0:0]',
    '-A FORWARD -j DOCKER-USER',
    '-A DOCKER-USER -p udp -m udp --dport 4789 -j DROP',
    '-A UNUSED -p tcp -m tcp --dport 2377 -j ACCEPT',
    'COMMIT',
  ].join('\n');
  const p = parseIptablesSave(text);
  assert.deepEqual(
    p.rules.map((r) => [r.chain, r.hook, r.dports.join(), r.verdict]),
    [
      ['DOCKER-USER', 'forward', '4789', 'drop'],
      ['UNUSED', null, '2377', 'accept'],
    ],
  );
});

test('iptables-save (nft backend): only multiport lines when asked', () => {
  const p = parseIptablesSave(fx('iptables-save-nft.txt'), (l) => / -m multiport /.test(l));
  assert.deepEqual(
    p.rules.map((r) => [r.protocol, r.dports.join(','), r.verdict]),
    [['udp', '7946,8472', 'accept']],
  );
});
