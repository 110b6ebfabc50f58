/** Why a transaction or block was refused: a stable code and a message naming what was wrong. */
export interface LedgerError {
  code: LedgerErrorCode;
  message: string;
}

export type LedgerErrorCode =
  | 'BAD_SIGNATURE'
  | 'BAD_NONCE'
  | 'DUPLICATE'
  | 'INSUFFICIENT_FUNDS'
  | 'FEE_TOO_LOW'
  | 'BAD_AMOUNT'
  | 'TOO_LARGE'
  | 'UNKNOWN_KIND'
  | 'MALFORMED'
  | 'WRONG_CHAIN'
  | 'BAD_BLOCK'
  | 'NODE_NOT_FOUND'
  | 'NOT_AUTHORIZED'
  | 'BAD_NODE_STATE'
  | 'COOLDOWN'
  | 'BAD_REPORT'
  | 'BAD_ENDPOINT'
  | 'JOB_NOT_FOUND'
  | 'BAD_JOB'
  | 'BAD_JOB_STATE'
  | 'BAD_FRAUD_PROOF'
  | 'BAD_SPEC'
  | 'APP_EXISTS'
  | 'APP_NOT_FOUND'
  | 'BAD_APP_STATE';

export type Result<T> = ({ ok: true } & T) | { ok: false; error: LedgerError };

export function fail(code: LedgerErrorCode, message: string): { ok: false; error: LedgerError } {
  return { ok: false, error: { code, message } };
}
