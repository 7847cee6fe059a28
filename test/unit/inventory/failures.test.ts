import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyNetnsFailure } from '../../../agent/inventory/index.js';
import type { RunResult } from '../../../shared/exec.js';
import { fx } from './fake.js';

const res = (stderr: string, code: number | null = 1, failure: string | null = null): RunResult => ({
  code,
  stdout: '',
  stderr,
  failure,
  durationMs: 1,
});

// stderr texts are real (captured by capture.sh) except where noted
const cases: Array<[string, string, RunResult, string]> = [
  [
    'nsenter, namespace file gone',
    'nsenter',
    res(fx('nsenter-vanished.stderr')),
    'namespace vanished during read',
  ],
  [
    'nsenter, bind mount gone (file left)',
    'nsenter',
    res("nsenter: reassociate to namespace 'ns/net' failed: Invalid argument"),
    'namespace vanished during read',
  ],
  [
    'ip -n, name gone',
    'ip',
    res('Cannot open network namespace "vxi-x": No such file or directory\n', 255),
    'namespace vanished during read',
  ],
  ['nsenter as nobody', 'nsenter', res(fx('notroot-nsenter.stderr')), 'permission denied (not root)'],
  ['ip -n as nobody', 'ip', res(fx('notroot-ip-n.stderr'), 255), 'permission denied (not root)'],
  [
    'ip missing inside nsenter',
    'nsenter',
    res('nsenter: failed to execute ip: No such file or directory\n', 127),
    'ip not installed',
  ],
  ['nsenter missing', 'nsenter', res('', null, 'not-found'), 'nsenter not installed'],
  ['timeout', 'ip', res('', null, 'timeout'), 'ip: timeout'],
  ['anything else', 'ip', res('Error: something odd\n', 2), 'ip exited 2: Error: something odd'],
];
for (const [name, cmd, r, want] of cases) {
  test(`classifyNetnsFailure: ${name}`, () => assert.equal(classifyNetnsFailure(cmd, r), want));
}
