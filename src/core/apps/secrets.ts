// App secrets: the rules every party checks the same way (names, sizes, counts) and what a sealed
// secret is bound to. A secret is a value for the environment of an app's containers that travels
// only sealed to the operator key of a node that hosts the app (core/crypto/seal.ts): the owner's
// CLI seals it per node, a holder re-seals it to a new holder on hand-over.
import { concatBytes, fromHex } from '../crypto/hash.ts';
import { ENV_NAME, ENV_NAME_RULE } from './spec.ts';

/** Largest secret value, in bytes of UTF-8. */
export const MAX_SECRET_BYTES = 64 * 1024;
/** Most secrets an app has at once. */
export const MAX_SECRETS_PER_APP = 32;
export const MAX_SECRET_NAME = 128;
const SECRET_AD_DOMAIN = 'openflux/app-secret/v1';

export type SecretCheck =
  | { ok: true }
  | { ok: false; code: 'BAD_SECRET_NAME' | 'BAD_SECRET'; message: string };

/** A secret's name is an environment variable name, as in a spec's env. */
export function checkSecretName(key: string): SecretCheck {
  if (key.length > MAX_SECRET_NAME || !ENV_NAME.test(key))
    return {
      ok: false,
      code: 'BAD_SECRET_NAME',
      message: `secret names are environment names (${ENV_NAME_RULE}), at most ${MAX_SECRET_NAME} characters; not ${JSON.stringify(key.slice(0, 40))}`,
    };
  return { ok: true };
}

/** A secret's value: UTF-8 text without NUL (an environment value), at most MAX_SECRET_BYTES. */
export function checkSecretValue(value: Uint8Array): SecretCheck {
  if (value.length > MAX_SECRET_BYTES)
    return {
      ok: false,
      code: 'BAD_SECRET',
      message: `a secret is at most ${MAX_SECRET_BYTES} bytes, this one is ${value.length}`,
    };
  if (value.includes(0)) return { ok: false, code: 'BAD_SECRET', message: 'a secret must not contain NUL' };
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    return { ok: false, code: 'BAD_SECRET', message: 'a secret must be UTF-8 text' };
  }
  return { ok: true };
}

/** What a sealed secret is bound to: the app, the key, its version and the node it is sealed for. */
export function secretAd(app: string, key: string, version: number, nodeId: string): Uint8Array {
  const text = new TextEncoder().encode(`${SECRET_AD_DOMAIN}\0${app}\0${key}\0${version}\0`);
  return concatBytes(text, fromHex(nodeId));
}
