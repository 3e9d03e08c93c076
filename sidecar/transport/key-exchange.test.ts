/**
 * The per-session key exchange (DESIGN §4 "Peer transport"): both sides of a pair derive the same
 * direction keys, and hellos or KEM ciphertexts that are tampered, signed by a key the session
 * does not pin, from outside the session or for another session are refused.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { developmentSigner, type Signer } from '../../cggmp/protocols/index.ts';
import type { TransportError } from './errors.ts';
import {
  completePair,
  createEphemeralKeys,
  initiatePair,
  signHello,
  signKem,
  verifyHello,
  verifyKem,
  type EphemeralKeys,
  type HandshakeContext,
} from './key-exchange.ts';
import type { HelloMessage } from './wire.ts';

interface Party {
  readonly index: number;
  readonly signer: Signer;
  readonly keys: EphemeralKeys;
  readonly ctx: HandshakeContext;
  readonly hello: HelloMessage;
}

async function group(n: number, sid: Uint8Array = randomBytes(32)): Promise<Party[]> {
  const signers = Array.from({ length: n }, () => developmentSigner());
  const identities = new Map(signers.map((s, i) => [i + 1, s.publicKey] as const));
  return Promise.all(
    signers.map(async (signer, i) => {
      const keys = createEphemeralKeys();
      return { index: i + 1, signer, keys, ctx: { sid, self: i + 1, identities }, hello: await signHello(signer, sid, i + 1, keys) };
    }),
  );
}

/** Runs the pair (low, high) exchange as the transport does and returns both sides' keys. */
async function pair(low: Party, high: Party) {
  const initiated = initiatePair(low.keys, low.ctx, high.hello);
  const kem = await signKem(low.signer, low.ctx.sid, low.index, high.index, initiated.kemCiphertext);
  return { low: initiated.keys, high: completePair(high.keys, high.ctx, low.hello, kem), kem };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as TransportError).code ?? String(e);
  }
  return 'accepted';
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('pairwise key derivation', () => {
  it('gives both sides of a pair the same key for each direction, and different keys for the two directions', async () => {
    const [p1, p2] = (await group(2)) as [Party, Party];
    const { low, high } = await pair(p1, p2);
    expect(hex(low.send)).toBe(hex(high.receive));
    expect(hex(low.receive)).toBe(hex(high.send));
    expect(hex(low.send)).not.toBe(hex(low.receive));
    expect(low.send).toHaveLength(32);
  });

  it('gives every pair of a three-party session its own keys, the higher party decapsulating twice', async () => {
    const [p1, p2, p3] = (await group(3)) as [Party, Party, Party];
    const k13 = await pair(p1, p3);
    const k23 = await pair(p2, p3);
    const k12 = await pair(p1, p2);
    expect(hex(k13.low.send)).toBe(hex(k13.high.receive));
    expect(hex(k23.low.send)).toBe(hex(k23.high.receive));
    expect(hex(k12.high.send)).toBe(hex(k12.low.receive));
    const all = [k13, k23, k12].flatMap((k) => [hex(k.low.send), hex(k.low.receive)]);
    expect(new Set(all).size).toBe(6);
  });

  it('derives different keys for the same parties in another session', async () => {
    const signers = [developmentSigner(), developmentSigner()];
    const identities = new Map(signers.map((s, i) => [i + 1, s.publicKey] as const));
    const run = async (sid: Uint8Array) => {
      const parties = await Promise.all(
        signers.map(async (signer, i) => {
          const keys = createEphemeralKeys();
          return { index: i + 1, signer, keys, ctx: { sid, self: i + 1, identities }, hello: await signHello(signer, sid, i + 1, keys) };
        }),
      );
      return pair(parties[0] as Party, parties[1] as Party);
    };
    const a = await run(randomBytes(32));
    const b = await run(randomBytes(32));
    expect(hex(a.low.send)).not.toBe(hex(b.low.send));
  });

  it('refuses to use ephemeral keys after they were destroyed', async () => {
    const [p1, p2] = (await group(2)) as [Party, Party];
    p1.keys.destroy();
    expect(codeOf(() => initiatePair(p1.keys, p1.ctx, p2.hello))).toBe('E_SESSION_CLOSED');
  });
});

describe('hello checks', () => {
  it('refuses a hello whose signature was tampered with', async () => {
    const [p1, p2] = (await group(2)) as [Party, Party];
    const signature = new Uint8Array(p2.hello.signature);
    signature[10] = (signature[10] as number) ^ 0x01;
    expect(codeOf(() => verifyHello({ ...p2.hello, signature }, p1.ctx))).toBe('E_HANDSHAKE_REJECTED');
    expect(codeOf(() => initiatePair(p1.keys, p1.ctx, { ...p2.hello, signature }))).toBe('E_HANDSHAKE_REJECTED');
    expect(codeOf(() => verifyHello(p2.hello, p1.ctx))).toBe('accepted');
  });

  it('refuses a hello whose ephemeral key was swapped after signing', async () => {
    const [p1, p2] = (await group(2)) as [Party, Party];
    const swapped = { ...p2.hello, x25519Pub: createEphemeralKeys().x25519Pub };
    expect(codeOf(() => verifyHello(swapped, p1.ctx))).toBe('E_HANDSHAKE_REJECTED');
  });

  it('refuses a hello signed by an identity key the session does not pin for its sender', async () => {
    const [p1, p2] = (await group(2)) as [Party, Party];
    const stranger = developmentSigner();
    const forged = await signHello(stranger, p1.ctx.sid, 2, p2.keys);
    expect(codeOf(() => verifyHello(forged, p1.ctx))).toBe('E_HANDSHAKE_REJECTED');
  });

  it('refuses a hello from a party that is not in the session, and one claiming to be this party', async () => {
    const [p1, p2] = (await group(2)) as [Party, Party];
    const outsider = await signHello(developmentSigner(), p1.ctx.sid, 7, p2.keys);
    expect(codeOf(() => verifyHello(outsider, p1.ctx))).toBe('E_UNKNOWN_SENDER');
    expect(codeOf(() => verifyHello(p1.hello, p1.ctx))).toBe('E_UNKNOWN_SENDER');
  });

  it('refuses a hello of another session, even when validly signed by the right party', async () => {
    const [p1, p2] = (await group(2)) as [Party, Party];
    const other = await signHello(p2.signer, randomBytes(32), 2, p2.keys);
    expect(codeOf(() => verifyHello(other, p1.ctx))).toBe('E_HANDSHAKE_REJECTED');
    // The same hello re-labelled with this session's id no longer matches its signature.
    expect(codeOf(() => verifyHello({ ...other, sid: p1.ctx.sid }, p1.ctx))).toBe('E_HANDSHAKE_REJECTED');
  });
});

describe('KEM ciphertext checks', () => {
  it('refuses a tampered, misaddressed, wrongly directed or foreign-session KEM ciphertext', async () => {
    const [p1, p2, p3] = (await group(3)) as [Party, Party, Party];
    const { kem } = await pair(p1, p2);
    expect(codeOf(() => verifyKem(kem, p2.ctx))).toBe('accepted');
    const ct = new Uint8Array(kem.kemCiphertext);
    ct[0] = (ct[0] as number) ^ 0x80;
    expect(codeOf(() => verifyKem({ ...kem, kemCiphertext: ct }, p2.ctx))).toBe('E_HANDSHAKE_REJECTED');
    // Addressed to party 2, delivered to party 3.
    expect(codeOf(() => verifyKem(kem, p3.ctx))).toBe('E_HANDSHAKE_REJECTED');
    // Only the lower-numbered party encapsulates: party 3 may not send one to party 2.
    const upward = await signKem(p3.signer, p3.ctx.sid, 3, 2, kem.kemCiphertext);
    expect(codeOf(() => verifyKem(upward, p2.ctx))).toBe('E_HANDSHAKE_REJECTED');
    const foreign = await signKem(p1.signer, randomBytes(32), 1, 2, kem.kemCiphertext);
    expect(codeOf(() => verifyKem(foreign, p2.ctx))).toBe('E_HANDSHAKE_REJECTED');
  });
});
