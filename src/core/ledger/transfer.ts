import { TransferPayload, TxKind } from '../codec/types.ts';
import { toHex } from '../crypto/hash.ts';
import { fail } from './errors.ts';
import { accounts, EMPTY_ACCOUNT } from './state.ts';
import type { TxKindHandler } from './types.ts';

/** Kind 1: move `amount` from the sender to `to`. */
export const transferHandler: TxKindHandler<TransferPayload> = {
  kind: TxKind.transfer,
  name: 'transfer',
  decode(bytes, params) {
    let value: TransferPayload;
    try {
      value = TransferPayload.deserialize(bytes);
    } catch (e) {
      return fail('MALFORMED', `transfer payload does not decode: ${(e as Error).message}`);
    }
    if (value.amount <= 0n) return fail('BAD_AMOUNT', 'transfer amount must be positive');
    if (value.amount > params.maxSupply) {
      return fail('BAD_AMOUNT', `transfer amount ${value.amount} exceeds the supply cap`);
    }
    return { ok: true, value };
  },
  spend: (value) => value.amount,
  apply(state, value) {
    const toId = toHex(value.to);
    const to = state.read(accounts, toId) ?? EMPTY_ACCOUNT;
    state.write(accounts, toId, { ...to, balance: to.balance + value.amount });
    return { ok: true };
  },
  parties: (value) => [value.to],
};
