/**
 * `vilna-mpc approve PLAN --key FILE` and `vilna-mpc approver keygen --out FILE` (DESIGN §8,
 * §4 "Plans and approvals"). An approver reads what they are about to sign (the summary goes to
 * stderr), then the Approval JSON goes to stdout or --out. The plan is validated with the same
 * schema every party uses, so a plan the parties would refuse is never signed; an expired plan
 * is refused too. Approver keys are Ed25519 PKCS#8 PEM, as `openssl genpkey -algorithm ed25519`
 * writes them; `approver keygen` makes development keys of that form.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  approverChangeHashHex,
  approverPublicKeyHex,
  approverSetHash,
  isApproverChangeDocument,
  parseApproverChange,
  parsePlan,
  planHashHex,
  signApproval,
  type Approval,
  type ApproverChange,
  type ApproverSet,
  type Plan,
  type PlanParty,
} from '../api/index.ts';
import { bytesToHex } from '@noble/hashes/utils.js';

/** Plans are a few kilobytes; anything this large is not one. */
const MAX_PLAN_BYTES = 1 << 20;
/** A PEM Ed25519 private key is about 120 bytes. */
const MAX_KEY_BYTES = 16 << 10;

export type ApproveErrorCode =
  /** the plan file (or stdin) cannot be read or is not JSON */
  | 'E_PLAN_UNREADABLE'
  /** the plan's expiry has passed: nobody would run it */
  | 'E_PLAN_EXPIRED'
  /** the key file cannot be read */
  | 'E_KEY_UNREADABLE'
  /** keygen would overwrite an existing file */
  | 'E_OUTPUT_EXISTS';

export class ApproveError extends Error {
  override readonly name = 'ApproveError';
  readonly code: ApproveErrorCode;

  constructor(code: ApproveErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** Where the command reads and writes; tests pass their own. */
export interface ApproveIo {
  readonly stdin?: AsyncIterable<Uint8Array | string>;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  readonly now?: Date;
}

export interface ApproveOptions {
  /** Ed25519 private key, PKCS#8 PEM. */
  readonly key: string;
  /** Write the approval here instead of stdout. */
  readonly out?: string;
  /** The approval as one JSON line (the last line of stdout) instead of indented JSON. */
  readonly json?: boolean;
}

export interface ApproveResult {
  readonly approval: Approval;
  /** The plan signed, or (for a change of the parties' approvers) the approver change. */
  readonly plan: Plan | ApproverChange;
  readonly summary: readonly string[];
}

const defaultIo = {
  stdin: process.stdin as AsyncIterable<Uint8Array | string>,
  stdout: (t: string): void => void process.stdout.write(t),
  stderr: (t: string): void => void process.stderr.write(t),
};

async function readLimited(source: AsyncIterable<Uint8Array | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    size += b.length;
    if (size > limit) throw new ApproveError('E_PLAN_UNREADABLE', `stdin: larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

async function readFileLimited(path: string, limit: number, code: ApproveErrorCode): Promise<{ data: Buffer; mode: number }> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new ApproveError(code, `${path}: not a regular file`);
    if (s.size > limit) throw new ApproveError(code, `${path}: larger than ${limit} bytes`);
    return { data: await readFile(path), mode: s.mode };
  } catch (e) {
    if (e instanceof ApproveError) throw e;
    throw new ApproveError(code, `${path}: ${(e as NodeJS.ErrnoException).code ?? 'cannot be read'}`);
  }
}

function partyLine(p: PlanParty): string {
  return `  ${String(p.index).padStart(2)}  ${p.name}  ${p.identityKey}  ${p.endpoint}`;
}

/** What an approver should read before signing: one line per fact. */
export function planSummary(plan: Plan, hashHex: string): string[] {
  const lines = [
    `plan hash  ${hashHex}`,
    `protocol   ${plan.protocol}`,
    `key        ${plan.keyId}`,
    `epoch      ${plan.epoch}`,
    `threshold  ${plan.threshold}-of-${plan.parties.length}`,
    `expires    ${plan.expiresAt}`,
    'parties',
    ...plan.parties.map(partyLine),
  ];
  if (plan.previous !== undefined) {
    const prev = plan.previous;
    lines.push(`previous   epoch ${prev.epoch}, ${prev.threshold}-of-${prev.parties.length}, dealers ${prev.dealers.join(',')}`, ...prev.parties.map(partyLine));
    // What an approver most needs to see in a reshare: who gains a share and who loses one.
    const before = new Set(prev.parties.map((p) => p.index));
    const after = new Set(plan.parties.map((p) => p.index));
    const joining = plan.parties.filter((p) => !before.has(p.index)).map((p) => p.index);
    const leaving = prev.parties.filter((p) => !after.has(p.index)).map((p) => p.index);
    lines.push(`joining    ${joining.length > 0 ? joining.join(',') : '(none)'}`, `leaving    ${leaving.length > 0 ? leaving.join(',') : '(none)'}`);
  }
  if (plan.policy !== undefined) {
    const pol = plan.policy;
    lines.push(`policy     allowed paths: ${pol.allowedPaths.length === 0 ? '(none: signing frozen)' : pol.allowedPaths.join(' ')}`);
    if (pol.rateLimits !== undefined) lines.push(`           rate limits: ${pol.rateLimits.perMinute ?? '-'}/min, ${pol.rateLimits.perHour ?? '-'}/h`);
    for (const w of pol.timeWindows ?? []) lines.push(`           window: ${w.days.join(',')} ${w.from}-${w.to} UTC`);
    if (pol.requiredApprovals !== undefined) lines.push(`           signing approvals: ${pol.requiredApprovals.quorum}`);
  }
  if (plan.presignPool !== undefined) lines.push(`presigns   ${plan.presignPool} per party`);
  return lines;
}

function approverSetLines(label: string, set: ApproverSet): string[] {
  return [`${label} ${set.quorum}-of-${set.keys.length}, set ${bytesToHex(approverSetHash(set))}`, ...set.keys.map((k) => `  ${k}`)];
}

/** What an approver of either set should read before signing an approver change. */
export function approverChangeSummary(change: ApproverChange, hashHex: string): string[] {
  return [
    `change hash ${hashHex}`,
    'protocol   approver-change (every party that pins the current set re-pins the new one)',
    `expires    ${change.expiresAt}`,
    ...approverSetLines('current   ', change.from),
    ...approverSetLines('new       ', change.to),
  ];
}

/**
 * Reads, validates and signs a plan (or an approver change); writes the summary to stderr and
 * the approval out.
 */
export async function approvePlanFile(planPath: string, opts: ApproveOptions, io: ApproveIo = {}): Promise<ApproveResult> {
  const stdout = io.stdout ?? defaultIo.stdout;
  const stderr = io.stderr ?? defaultIo.stderr;
  const now = io.now ?? new Date();

  const raw = planPath === '-' ? await readLimited(io.stdin ?? defaultIo.stdin, MAX_PLAN_BYTES) : (await readFileLimited(planPath, MAX_PLAN_BYTES, 'E_PLAN_UNREADABLE')).data;
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApproveError('E_PLAN_UNREADABLE', `${planPath === '-' ? 'stdin' : planPath}: not valid JSON`);
  }
  const change = isApproverChangeDocument(json);
  const plan = change ? parseApproverChange(json) : parsePlan(json); // ContractError E_PLAN_INVALID naming the field
  if (now.getTime() >= new Date(plan.expiresAt).getTime()) throw new ApproveError('E_PLAN_EXPIRED', `the ${change ? 'approver change' : 'plan'} expired at ${plan.expiresAt}`);

  const { data: keyFile, mode: keyMode } = await readFileLimited(opts.key, MAX_KEY_BYTES, 'E_KEY_UNREADABLE');
  if ((keyMode & 0o077) !== 0) stderr(`warning: ${opts.key} is readable by group or others (mode ${(keyMode & 0o777).toString(8)})\n`);

  const hashHex = change ? approverChangeHashHex(plan as ApproverChange) : planHashHex(plan as Plan);
  const approval = signApproval(hashHex, keyFile.toString('utf8'));
  const summary = [...(change ? approverChangeSummary(plan as ApproverChange, hashHex) : planSummary(plan as Plan, hashHex)), `approver   ${approval.approver}`];
  stderr(summary.join('\n') + '\n');

  const text = opts.json ? JSON.stringify(approval) + '\n' : JSON.stringify(approval, null, 2) + '\n';
  if (opts.out !== undefined) {
    await writeFile(opts.out, text, { mode: 0o644 });
    stderr(`approval written to ${opts.out}\n`);
    if (opts.json) stdout(text);
  } else {
    stdout(text);
  }
  return { approval, plan, summary };
}

export interface KeygenOptions {
  readonly out: string;
  readonly json?: boolean;
}

/**
 * Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600) for development approvers and prints
 * its public key. Never overwrites: losing an approver key is worse than a failed command.
 */
export async function approverKeygen(opts: KeygenOptions, io: ApproveIo = {}): Promise<{ approver: string; out: string }> {
  const stdout = io.stdout ?? defaultIo.stdout;
  const stderr = io.stderr ?? defaultIo.stderr;
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  try {
    await writeFile(opts.out, pem, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ApproveError('E_OUTPUT_EXISTS', `${opts.out} exists; refusing to overwrite a key`);
    throw e;
  }
  const approver = approverPublicKeyHex(privateKey);
  stderr(`development approver key written to ${opts.out} (mode 0600)\n`);
  stdout(opts.json ? JSON.stringify({ approver, out: opts.out }) + '\n' : approver + '\n');
  return { approver, out: opts.out };
}

/** Prints a refusal as "vilna-mpc <command>: CODE: message" and sets a failing exit code. */
function reportFailure(command: string, e: unknown): void {
  const message = e instanceof Error && typeof (e as { code?: unknown }).code === 'string' ? e.message : `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
  process.stderr.write(`vilna-mpc ${command}: ${message}\n`);
  process.exitCode = 1;
}

/** Registers `approve` and `approver keygen` on the root command. */
export function registerApprove(program: Command): void {
  program
    .command('approve')
    .description("sign a plan's canonical hash with an approver key (the summary goes to stderr)")
    .argument('<plan>', 'plan JSON file, or - for stdin')
    .requiredOption('--key <file>', 'approver Ed25519 private key, PKCS#8 PEM')
    .option('--out <file>', 'write the approval JSON here instead of stdout')
    .option('--json', 'the approval as one JSON line on stdout')
    .action(async (plan: string, opts: { key: string; out?: string; json?: boolean }) => {
      try {
        await approvePlanFile(plan, opts);
      } catch (e) {
        reportFailure('approve', e);
      }
    });

  program
    .command('approver')
    .description('approver keys')
    .command('keygen')
    .description('write a new development approver key (Ed25519, PKCS#8 PEM, mode 0600) and print its public key')
    .requiredOption('--out <file>', 'where to write the private key (must not exist)')
    .option('--json', '{ approver, out } as one JSON line on stdout')
    .action(async (opts: { out: string; json?: boolean }) => {
      try {
        await approverKeygen(opts);
      } catch (e) {
        reportFailure('approver keygen', e);
      }
    });
}
