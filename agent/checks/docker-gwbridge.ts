import type { Check } from '../../shared/schema.js';
import { problem } from './util.js';

export const GWBRIDGE_COMMAND =
  'docker network create --subnet 172.18.0.0/16 --gateway 172.18.0.1 -o com.docker.network.bridge.enable_icc=false -o com.docker.network.bridge.name=docker_gwbridge docker_gwbridge';

export const dockerGwbridge: Check = {
  id: 'docker-gwbridge',
  title: 'Swarm nodes with overlays have docker_gwbridge',
  incident: [4],
  run(s) {
    const d = s.docker;
    if (!d.swarm || d.overlayNamespaces.length === 0 || d.gwbridge) return [];
    return [
      problem(s, {
        check: 'docker-gwbridge',
        kind: 'missing-gwbridge',
        severity: 'critical',
        incident: 4,
        subject: 'host/docker_gwbridge',
        summary: `Swarm node with ${d.overlayNamespaces.length} overlay network(s) but no docker_gwbridge: service tasks fail to start here ("network not found")`,
        evidence: [
          `overlay namespaces: ${d.overlayNamespaces.join(', ')}`,
          'no bridge named docker_gwbridge in the host namespace',
        ],
        remediation: `Recreate it (docker leaves it missing after some upgrades/restarts): ${GWBRIDGE_COMMAND}`,
      }),
    ];
  },
};
