// What every command gets: parsed options, I/O, output helpers and the API client.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createClient, type FluxClient } from '../api/client.ts';
import type { CliIo } from './io.ts';

export const DEFAULT_API = 'http://127.0.0.1:16127';

export type OptionValues = Record<string, string | string[] | boolean | undefined>;

export interface CommandContext {
  io: CliIo;
  values: OptionValues;
  positionals: string[];
  json: boolean;
  api: string;
  client(): FluxClient;
  /** Human text on stdout, or the JSON value on stdout under --json. */
  emit(jsonValue: unknown, human: string): void;
  /** A message for people: always on stderr, so stdout stays machine-readable. */
  note(line: string): void;
  walletDir(): string;
}

export function createContext(io: CliIo, values: OptionValues, positionals: string[]): CommandContext {
  const json = values.json === true;
  const api = (values.api as string | undefined) ?? io.env.FLUX_API ?? DEFAULT_API;
  let client: FluxClient | undefined;
  return {
    io,
    values,
    positionals,
    json,
    api,
    client: () => (client ??= createClient({ baseUrl: api })),
    emit(jsonValue, human) {
      if (json) io.stdout.write(`${JSON.stringify(jsonValue, null, 2)}\n`);
      else io.stdout.write(human.endsWith('\n') ? human : `${human}\n`);
    },
    note(line) {
      io.stderr.write(`${line}\n`);
    },
    walletDir() {
      return (
        (values['wallet-dir'] as string | undefined) ??
        io.env.FLUX_WALLET_DIR ??
        join(io.env.HOME ?? homedir(), '.openflux', 'wallet')
      );
    },
  };
}
