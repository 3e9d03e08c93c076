/**
 * `vilna-mpc demo` (DESIGN §8): the product's main job on its embedded default. Separate party
 * processes on loopback, each with its own SoftHSM token and state directory, development
 * approver keys approving each plan: keygen + aux-info, signatures, a refresh, a signature under
 * the new epoch, and one under a derived key. Progress on stderr; with --json the report is the
 * last line of stdout. Every signature is checked with OpenSSL before it is reported.
 */
import { createHash, createPublicKey, verify as osslVerify } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SignatureResponse } from '../api/signing.ts';
import { LocalCluster } from './local-parties.ts';

export interface DemoOptions {
  readonly parties: number;
  readonly threshold: number;
  readonly stateDir?: string;
  readonly primes?: string;
  readonly json?: boolean;
}

/** SubjectPublicKeyInfo prefix of a compressed secp256k1 point (RFC 5480). */
const SECP256K1_SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');

/** OpenSSL's verdict on a reported signature (sha256 and sha256d messages). */
export function verifiesUnderOpenSsl(sig: Pick<SignatureResponse, 'message' | 'hash' | 'publicKey' | 'der'>): boolean {
  const key = createPublicKey({ key: Buffer.concat([SECP256K1_SPKI_PREFIX, Buffer.from(sig.publicKey, 'hex')]), format: 'der', type: 'spki' });
  const message = Buffer.from(sig.message, 'hex');
  const signed = sig.hash === 'sha256' ? message : sig.hash === 'sha256d' ? createHash('sha256').update(message).digest() : undefined;
  if (signed === undefined) return false;
  return osslVerify('sha256', signed, key, Buffer.from(sig.der, 'hex'));
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const progress = (line: string): void => void process.stderr.write(`vilna-mpc demo: ${line}\n`);
  const { parties: n, threshold: t } = opts;
  if (!Number.isInteger(n) || n < 2 || n > 16 || !Number.isInteger(t) || t < 2 || t > n) {
    process.stderr.write('vilna-mpc demo: need 2 ≤ threshold ≤ parties ≤ 16\n');
    return 2;
  }
  const timingsMs: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timingsMs[name] = Math.round(performance.now() - t0);
    }
  };
  const stateDir = path.resolve(opts.stateDir ?? (await mkdtemp(path.join(tmpdir(), 'vilna-demo-'))));
  let cluster: LocalCluster | undefined;
  try {
    progress(`state directory ${stateDir}`);
    cluster = await timed('provision', async () => {
      progress(`provisioning ${n} SoftHSM tokens, a development CA and 3 development approvers (quorum 2)`);
      return LocalCluster.create({ dir: stateDir, parties: n, ...(opts.primes ? { primesFile: opts.primes } : {}) });
    });
    const c = cluster;
    await timed('startNodes', async () => {
      progress(`starting ${n} party processes`);
      await c.startAll();
    });
    const keyId = 'demo-key';
    const keygen = await timed('keygen', async () => {
      progress(`keygen + aux-info, ${t}-of-${n} (approved plan, coordinated by party 1)`);
      const plan = c.plan({ protocol: 'keygen', keyId, epoch: 0, threshold: t });
      return c.ceremony(1, plan, c.approve(plan));
    });
    const pub = keygen.result!;
    progress(`public key ${pub.publicKey}`);
    await timed('policy', async () => {
      progress('signing policy (approved plan): non-hardened paths up to depth 4 — a key signs nothing before one');
      await c.approvePolicy(3, keyId, 0);
    });

    const signatures: SignatureResponse[] = [];
    const signAt = async (party: number, name: string, message: string, hash: 'sha256' | 'sha256d', derivationPath?: string): Promise<void> => {
      await timed(name, async () => {
        progress(`signing "${message}" (${hash}${derivationPath ? `, ${derivationPath}` : ''}) through party ${party}'s API`);
        const res = await c.sign(party, keyId, { requestId: `demo-${name}`, message, encoding: 'utf8', hash, ...(derivationPath ? { derivationPath } : {}) });
        if (res.status !== 201) throw new Error(`signing failed: ${res.status} ${JSON.stringify(res.body)}`);
        const sig = res.body as SignatureResponse;
        if (!verifiesUnderOpenSsl(sig)) throw new Error(`signature ${name} does not verify under OpenSSL`);
        signatures.push(sig);
      });
    };
    await signAt(1, 'sign1', 'vilna-mpc demo: first signature', 'sha256');
    await signAt(2, 'sign2', 'vilna-mpc demo: second signature', 'sha256d');

    const refresh = await timed('refresh', async () => {
      progress('refresh + fresh aux-info (epoch 0 → 1, coordinated by party 2); old epoch shredded after a test signature');
      const plan = c.plan({ protocol: 'refresh', keyId, epoch: 1, threshold: t });
      return c.ceremony(2, plan, c.approve(plan));
    });
    await signAt(1, 'signAfterRefresh', 'vilna-mpc demo: after refresh', 'sha256');
    await signAt(1, 'signDerived', 'vilna-mpc demo: derived key', 'sha256', 'm/0/1');

    const report = {
      publicKey: pub.publicKey,
      xpub: pub.xpub,
      threshold: t,
      parties: c.parties.map((p) => p.index),
      stateDir,
      signatures: signatures.map((s) => ({
        message: s.message,
        hash: s.hash,
        digest: s.digest,
        r: s.r,
        s: s.s,
        recoveryId: s.recoveryId,
        derivationPath: s.derivationPath,
        publicKey: s.publicKey,
        epoch: s.epoch,
        signers: s.signers,
        der: s.der,
      })),
      rotation: { epochBefore: pub.epoch, epochAfter: refresh.result!.epoch, publicKeyUnchanged: refresh.result!.publicKey === pub.publicKey },
      timingsMs,
    };
    progress(`done: ${signatures.length} signatures verified under OpenSSL; audit logs: vilna-mpc audit verify ${stateDir}`);
    if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`public key ${report.publicKey}\nxpub ${report.xpub}\nsignatures ${signatures.length}, rotation ${report.rotation.epochBefore} → ${report.rotation.epochAfter}\nstate ${stateDir}\n`);
    return 0;
  } catch (e) {
    progress(`failed: ${(e as Error).message}`);
    if (cluster) for (const p of cluster.parties) progress(`party ${p.index} log tail:\n${await cluster.logTail(p.index, 8)}`);
    return 1;
  } finally {
    progress('stopping the party processes');
    await cluster?.stopAll();
  }
}
