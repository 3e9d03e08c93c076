/**
 * A task's error as it crosses threads: the protocol library's typed errors come back as the
 * same classes with the same fields (a `blame` turns them into an abort naming the sender); any
 * other error comes back as a plain Error, which no `blame` swallows. Messages of the library's
 * errors name fields and checks, never values (errors.ts), so nothing secret crosses here.
 */
import { ArithError, CggmpError, InvalidInputError, ProofInvalidError, SecurityLevelError, type ErrorCode } from '../errors.ts';

export interface WireError {
  readonly cls: string;
  readonly code?: ErrorCode;
  readonly message: string;
  readonly field?: string;
  readonly proof?: string;
  readonly check?: string;
}

export function errorToWire(e: unknown): WireError {
  if (e instanceof InvalidInputError) return { cls: 'InvalidInputError', message: e.message, field: e.field };
  if (e instanceof ProofInvalidError) return { cls: 'ProofInvalidError', message: e.message, proof: e.proof, check: e.check };
  if (e instanceof ArithError) return { cls: 'ArithError', message: e.message };
  if (e instanceof SecurityLevelError) return { cls: 'SecurityLevelError', message: e.message };
  if (e instanceof CggmpError) return { cls: 'CggmpError', code: e.code, message: e.message };
  return { cls: 'Error', message: e instanceof Error ? `${e.name}: ${e.message}` : 'a proof task failed' };
}

export function errorFromWire(w: WireError): Error {
  switch (w.cls) {
    case 'InvalidInputError': {
      const field = w.field ?? 'value';
      // The class prefixes "field: "; the wire message already has it.
      return new InvalidInputError(field, w.message.startsWith(`${field}: `) ? w.message.slice(field.length + 2) : w.message);
    }
    case 'ProofInvalidError':
      return new ProofInvalidError(w.proof ?? 'proof', w.check ?? 'check');
    case 'ArithError':
      return new ArithError(w.message);
    case 'SecurityLevelError':
      return new SecurityLevelError(w.message);
    case 'CggmpError':
      return new CggmpError(w.code ?? 'E_INVALID_INPUT', w.message);
    default:
      return new Error(`proof worker: ${w.message}`);
  }
}
