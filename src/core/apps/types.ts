// App state: records by name, their expiry index, and the chain-wide escrow totals.
import { AppEscrow, AppRecord, type AppEscrow as Escrow, type AppRecord as Record } from '../codec/types.ts';
import type { StateReader, Table } from '../ledger/state.ts';

/** `app/<name>` -> the app. Names are unique: a registration of a taken name is refused. */
export const apps: Table<Record> = {
  prefix: 'app/',
  encode: (v) => AppRecord.serialize(v),
  decode: (b) => AppRecord.deserialize(b),
};

const MARK = new Uint8Array([1]);
/** `appdue/<height>/<name>`: an app that expires at that height. */
export const appsDue: Table<true> = { prefix: 'appdue/', encode: () => MARK, decode: () => true };

/** `appescrow/` -> held (refundable) and earned (consumed by running apps) totals. */
export const appEscrow: Table<Escrow> = {
  prefix: 'appescrow/',
  encode: (v) => AppEscrow.serialize(v),
  decode: (b) => AppEscrow.deserialize(b),
};

export const EMPTY_ESCROW: Escrow = Object.freeze({ held: 0n, earned: 0n });

export function appDueKey(height: number, name: string): string {
  return `${String(height).padStart(16, '0')}/${name}`;
}

export function getApp(state: StateReader, name: string): Record | undefined {
  const bytes = state.get(apps.prefix + name);
  return bytes === undefined ? undefined : apps.decode(bytes);
}

export function getAppEscrow(state: StateReader): Escrow {
  const bytes = state.get(appEscrow.prefix);
  return bytes === undefined ? EMPTY_ESCROW : appEscrow.decode(bytes);
}

/** Every app in name order. */
export function listApps(state: StateReader): Array<{ name: string; app: Record }> {
  return (state.scan?.(apps.prefix, Number.MAX_SAFE_INTEGER) ?? []).map(([key, value]) => ({
    name: key.slice(apps.prefix.length),
    app: apps.decode(value),
  }));
}
