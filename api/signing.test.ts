import { describe, expect, it } from 'vitest';
import { decodeMessage, MAX_MESSAGE_BYTES, SignatureRequestSchema, SigningRequestError } from './signing.ts';

const base = { requestId: 'r-1', hash: 'sha256' } as const;

describe('signature requests', () => {
  // Issue 16 item 4: each of these answered 500 E_INTERNAL; they are the caller's error.
  const bad: [string, string, 'hex' | 'base64' | 'utf8'][] = [
    ['hex with a non-hex digit', 'zz', 'hex'],
    ['hex of odd length', 'abc', 'hex'],
    ['base64 with characters outside the alphabet', '!!!', 'base64'],
    ['base64 with a lone trailing character', 'abcde', 'base64'],
    ['base64 with inner padding', 'ab==cd', 'base64'],
    ['UTF-8 over the limit once encoded (128 KiB of two-byte characters)', 'é'.repeat(64 * 1024), 'utf8'],
    ['hex one byte over the limit', 'ab'.repeat(MAX_MESSAGE_BYTES + 1), 'hex'],
  ];
  for (const [what, message, encoding] of bad) {
    it(`refuses ${what}, naming the message field`, () => {
      const r = SignatureRequestSchema.safeParse({ ...base, message, encoding });
      expect(r.success).toBe(false);
      expect(r.error?.issues.map((i) => i.path.join('.'))).toContain('message');
      expect(() => decodeMessage(message, encoding)).toThrow(SigningRequestError);
      expect(() => decodeMessage(message, encoding)).toThrow(expect.objectContaining({ code: 'E_SIGNING_REQUEST_INVALID' }));
    });
  }

  it('decodes what it accepts exactly, up to the limit', () => {
    const cases: [string, 'hex' | 'base64' | 'utf8', Uint8Array][] = [
      ['00ff10', 'hex', Uint8Array.of(0, 255, 16)],
      ['AP8Q', 'base64', Uint8Array.of(0, 255, 16)],
      ['AP8', 'base64', Uint8Array.of(0, 255)],
      ['AP8=', 'base64', Uint8Array.of(0, 255)],
      ['é', 'utf8', Uint8Array.of(0xc3, 0xa9)],
      ['', 'hex', new Uint8Array(0)],
    ];
    for (const [message, encoding, bytes] of cases) {
      expect(SignatureRequestSchema.safeParse({ ...base, message, encoding }).success).toBe(true);
      expect(decodeMessage(message, encoding)).toEqual(bytes);
    }
    expect(decodeMessage('ab'.repeat(MAX_MESSAGE_BYTES), 'hex').length).toBe(MAX_MESSAGE_BYTES);
  });
});
