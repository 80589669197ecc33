/**
 * The deployment files (Dockerfile, deploy/*.yaml, deploy/make-certs.sh), checked where they can run
 * here. Docker and Kubernetes cannot, so: the manifests' key fields are read with a YAML parser, and
 * the image's entry point command line runs as the StatefulSet would run it — three processes
 * configured only by the StatefulSet's BALLOT_* variables and a pod's HOSTNAME, with certificates from
 * make-certs.sh — on 127.0.0.1; they elect, report ready, and stop with exit 0 on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { requires } from '../testing/requires.js';
import { freePorts, waitFor } from '../runtime/testing.js';
import { fetchStatus } from '../runtime/local-cluster.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

type Yaml = Record<string, unknown>;
/** A field by path, e.g. at(doc, 'spec.template.spec.containers.0.env'). */
function at(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node === null || typeof node !== 'object' ? undefined : (node as Yaml)[key]), value);
}

const service = load(read('deploy/service.yaml'));
const statefulSet = load(read('deploy/statefulset.yaml'));
const budget = load(read('deploy/pdb.yaml'));
const container = at(statefulSet, 'spec.template.spec.containers.0');
const env = new Map((at(container, 'env') as { name: string; value: string }[]).map(({ name, value }) => [name, value]));

/** The Dockerfile's final stage: its instructions, one per logical line. */
function finalStage(): string[] {
  const lines = read('Dockerfile').replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const from = lines.map((line, i) => (line.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0).at(-1)!;
  return lines.slice(from);
}
const instruction = (name: string): string[] => finalStage().filter((line) => line.startsWith(`${name} `)).map((line) => line.slice(name.length + 1).trim());

test('the Kubernetes manifests: headless Service publishing not-ready pods, 3 replicas found by its DNS names, probes, PVCs, PDB, TLS from a Secret', () => {
  const name = at(service, 'metadata.name');
  assert.equal(at(service, 'kind'), 'Service');
  assert.equal(at(service, 'spec.clusterIP'), 'None');
  assert.equal(at(service, 'spec.publishNotReadyAddresses'), true);
  assert.equal(at(statefulSet, 'kind'), 'StatefulSet');
  assert.equal(at(statefulSet, 'spec.serviceName'), name);
  assert.equal(at(statefulSet, 'spec.replicas'), 3);
  assert.equal(at(statefulSet, 'spec.podManagementPolicy'), 'Parallel', 'OrderedReady would wait for a pod that cannot be ready alone');
  const labels = at(statefulSet, 'spec.template.metadata.labels');
  assert.deepEqual(at(statefulSet, 'spec.selector.matchLabels'), labels);
  assert.deepEqual(at(service, 'spec.selector'), labels);
  assert.deepEqual(at(budget, 'spec.selector.matchLabels'), labels);
  assert.equal(at(budget, 'kind'), 'PodDisruptionBudget');
  assert.equal(at(budget, 'spec.maxUnavailable'), 1);

  // Pod <name>-<ordinal> is node ordinal + 1, at <name>-<ordinal>.<service>.
  assert.equal(env.get('BALLOT_ID_FROM_HOSTNAME'), 'true');
  assert.equal(env.get('BALLOT_PEERS'), [0, 1, 2].map((ordinal) => `${ordinal + 1}=${at(statefulSet, 'metadata.name')}-${ordinal}.${name}:7000`).join(','));
  assert.equal(at(container, 'livenessProbe.httpGet.path'), '/livez');
  assert.equal(at(container, 'readinessProbe.httpGet.path'), '/readyz');
  assert.equal(env.get('BALLOT_HTTP'), '0.0.0.0:8080');
  const ports = new Map((at(container, 'ports') as { name: string; containerPort: number }[]).map((port) => [port.name, port.containerPort]));
  assert.deepEqual(Object.fromEntries(ports), { peer: 7000, http: 8080 });

  // The data dir is the PVC; the comment says what losing it costs.
  const mounts = new Map((at(container, 'volumeMounts') as { name: string; mountPath: string }[]).map((mount) => [mount.name, mount.mountPath]));
  assert.equal(at(statefulSet, 'spec.volumeClaimTemplates.0.metadata.name'), 'data');
  assert.equal(mounts.get('data'), env.get('BALLOT_DATA_DIR'));
  assert.match(read('deploy/statefulset.yaml'), /Losing the state file can let a node vote twice/);
  // TLS from the Secret, each pod's own certificate by its id.
  const secret = (at(statefulSet, 'spec.template.spec.volumes') as { name: string; secret?: { secretName: string } }[]).find((volume) => volume.name === 'tls');
  assert.equal(secret?.secret?.secretName, 'ballot-tls');
  assert.equal(env.get('BALLOT_TLS_CERT'), `${mounts.get('tls')}/node-{id}.crt`);
  assert.equal(env.get('BALLOT_TLS_KEY'), `${mounts.get('tls')}/node-{id}.key`);
  assert.equal(env.get('BALLOT_TLS_CA'), `${mounts.get('tls')}/ca.crt`);
  assert.equal(at(statefulSet, 'spec.template.spec.securityContext.runAsNonRoot'), true);
});

test('the Dockerfile: node:20-slim, production dependencies of the packed package, non-root, exec-form entry point, ports, data volume', () => {
  assert.deepEqual(read('Dockerfile').split('\n').filter((line) => line.startsWith('FROM ')).map((line) => line.split(' ')[1]), ['node:20-slim', 'node:20-slim']);
  assert.ok(instruction('RUN').some((run) => run.includes('npm ci --omit=dev')));
  assert.ok(read('Dockerfile').includes('npm pack'));
  const user = instruction('USER');
  assert.equal(user.length, 1);
  assert.ok(!['root', '0'].includes(user[0]!));
  // Exec form (a JSON array): node is PID 1 and gets SIGTERM itself. The entry is the bundle `bin` names,
  // which the build stage makes (scripts/bundle.mjs) and `npm pack` ships.
  assert.deepEqual(JSON.parse(instruction('ENTRYPOINT')[0]!), ['node', 'dist/cli/ballot.cjs']);
  assert.match(read('Dockerfile'), /RUN npx tsc -p tsconfig.json && node scripts\/bundle\.mjs/);
  assert.equal((JSON.parse(read('package.json')) as { bin: { ballot: string } }).bin.ballot, 'dist/cli/ballot.cjs');
  assert.deepEqual(JSON.parse(instruction('CMD')[0]!), ['node']);
  assert.deepEqual(instruction('EXPOSE')[0]!.split(/\s+/), ['7000', '8080']);
  assert.deepEqual(JSON.parse(instruction('VOLUME')[0]!), ['/data']);
  assert.match(instruction('ENV').join(' '), /BALLOT_DATA_DIR=\/data/);
});

const opensslPresent = spawnSync('openssl', ['version']).status === 0;

test(
  'the image entry point, configured as the StatefulSet configures it (BALLOT_* and HOSTNAME only, TLS from make-certs.sh), elects on 127.0.0.1 and stops on SIGTERM with exit 0',
  { ...requires(opensslPresent, 'needs openssl (deploy/make-certs.sh)'), timeout: 90_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ballot-deploy-'));
    const children: ChildProcess[] = [];
    try {
      const made = spawnSync('sh', [join(root, 'deploy/make-certs.sh'), join(dir, 'tls'), '3'], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const ports = await freePorts(6);
      const podName = String(at(statefulSet, 'metadata.name'));
      const serviceName = String(at(service, 'metadata.name'));
      const entry = [...(JSON.parse(instruction('ENTRYPOINT')[0]!) as string[]), ...(JSON.parse(instruction('CMD')[0]!) as string[])];
      assert.equal(entry[0], 'node');
      // One machine stands in for three pods: each pod's own IP and volume become a port and a directory
      // of its own; everything else is the StatefulSet's environment as written.
      const local = (value: string, ordinal: number): string => {
        let text = value.replaceAll('/etc/ballot/tls', join(dir, 'tls')).replaceAll(String(env.get('BALLOT_DATA_DIR')), join(dir, `data-${ordinal}`));
        for (let other = 0; other < 3; other++) text = text.replaceAll(`${podName}-${other}.${serviceName}:7000`, `127.0.0.1:${ports[other]!}`);
        return text.replace('0.0.0.0:7000', `127.0.0.1:${ports[ordinal]!}`).replace('0.0.0.0:8080', `127.0.0.1:${ports[3 + ordinal]!}`);
      };
      const exits: Promise<number | null>[] = [];
      for (let ordinal = 0; ordinal < 3; ordinal++) {
        const podEnv: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOSTNAME: `${podName}-${ordinal}` };
        for (const [name, value] of env) podEnv[name] = local(value, ordinal);
        const child = spawn(process.execPath, entry.slice(1), { cwd: root, env: podEnv, stdio: ['ignore', 'ignore', 'pipe'] });
        const stderr: string[] = [];
        child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
        children.push(child);
        exits.push(new Promise((resolve) => child.once('exit', (code) => {
          if (code !== 0) t.diagnostic(`pod ${ordinal}: ${stderr.join('').slice(-2000)}`);
          resolve(code);
        })));
      }
      const agreed = await waitFor('an agreed leader', 40_000, async () => {
        const views = await Promise.all([0, 1, 2].map((ordinal) => fetchStatus(ports[3 + ordinal]!)));
        const leader = views[0]?.leader;
        return leader != null && views.every((view) => view?.leader === leader && view.term === views[0]!.term) ? views : undefined;
      }, 100);
      // Pod ballot-<ordinal> is node ordinal + 1.
      assert.deepEqual(agreed.map((view) => view!.id), [1, 2, 3]);
      await waitFor('every pod ready', 20_000, async () => {
        const codes = await Promise.all([0, 1, 2].map(async (ordinal) => (await fetch(`http://127.0.0.1:${ports[3 + ordinal]!}/readyz`)).status));
        return codes.every((code) => code === 200) ? true : undefined;
      }, 100);
      // Kubernetes stops a pod with SIGTERM to PID 1: the node (not a shell) gets it and stops cleanly.
      for (const child of children) child.kill('SIGTERM');
      assert.deepEqual(await Promise.all(exits), [0, 0, 0]);
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
