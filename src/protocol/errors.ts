/** Stable error codes: flows and Catch nodes route on these, so never rename one. */
export type YkcErrorCode =
  | 'YKC_CRC'
  | 'YKC_LENGTH'
  | 'YKC_START'
  | 'YKC_FIELD'
  | 'YKC_UNKNOWN_TYPE'
  | 'YKC_ENCRYPTED'
  | 'YKC_GARBAGE'
  | 'YKC_BUFFER'
  | 'YKC_INPUT'
  | 'YKC_OFFLINE'
  | 'YKC_TIMEOUT'
  | 'YKC_CLOSED'
  | 'YKC_REJECTED'
  | 'YKC_QUEUE_FULL'
  | 'YKC_LISTEN'
  | 'YKC_LOGIN'
  | 'YKC_LIMIT'
  | 'YKC_TARIFF'
  | 'YKC_STORE';

export class YkcError extends Error {
  readonly code: YkcErrorCode;
  /** Machine-readable context: frame type, field, value, pile number… */
  readonly details: Record<string, unknown>;

  constructor(code: YkcErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'YkcError';
    this.code = code;
    this.details = details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isYkcError(e: unknown): e is YkcError {
  return e instanceof YkcError;
}

export function hexOf(buf: Uint8Array): string {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('hex').toUpperCase();
}

export function typeHex(type: number): string {
  return '0x' + type.toString(16).toUpperCase().padStart(2, '0');
}
