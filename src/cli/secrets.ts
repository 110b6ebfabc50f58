// `flux app secret set|list|unset`: an app's secrets, sealed here to the operator key of each node
// that placement assigns the app and sent to that node's API signed by the owner's key. A value
// never leaves this process in clear (core/crypto/seal.ts, node/fluxos/secrets.ts).
import { randomBytes } from 'node:crypto';
import { createClient } from '../api/client.ts';
import { ownerSigner } from '../api/owner-auth.ts';
import { checkSecretName, checkSecretValue, secretAd } from '../core/apps/secrets.ts';
import { fromHex } from '../core/crypto/hash.ts';
import type { KeyPair } from '../core/crypto/keys.ts';
import { seal } from '../core/crypto/seal.ts';
import { ownerKey } from './apps.ts';
import type { CommandContext } from './context.ts';
import { CliError, promptHidden } from './io.ts';

/** The value: a hidden prompt on a terminal, else all of stdin less one trailing newline. */
async function readValue(ctx: CommandContext, key: string): Promise<Uint8Array> {
  const { stdin } = ctx.io;
  let text: string;
  if (stdin.isTTY) text = await promptHidden(ctx.io, `Value of ${key}: `);
  else {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
    text = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  return new TextEncoder().encode(text);
}

function checkedName(key: string): string {
  const name = checkSecretName(key);
  if (!name.ok) throw new CliError(`${name.code}: ${name.message}`, 2);
  return key;
}

interface Holder {
  id: string;
  endpoint: string;
}

/** The nodes placement assigns the app now, and the owner's key. */
async function holders(ctx: CommandContext, name: string): Promise<{ nodes: Holder[]; key: KeyPair }> {
  const app = await ctx.client().app({ params: { name } });
  if (app.placement.nodes.length === 0)
    throw new CliError(
      `${name} is placed on no node now${app.placement.reason ? `: ${app.placement.reason}` : ''}`,
    );
  return { nodes: app.placement.nodes, key: await ownerKey(ctx, name) };
}

type Outcome =
  | { node: string; endpoint: string; ok: true }
  | { node: string; endpoint: string; ok: false; error: string };

/** Runs `send` for every node; prints each outcome; fails when no node accepted. */
async function toEach(
  ctx: CommandContext,
  what: string,
  nodes: Holder[],
  send: (node: Holder) => Promise<void>,
): Promise<void> {
  const outcomes: Outcome[] = await Promise.all(
    nodes.map(async (n) => {
      try {
        await send(n);
        return { node: n.id, endpoint: n.endpoint, ok: true as const };
      } catch (e) {
        const err = e as Error & { code?: string };
        return {
          node: n.id,
          endpoint: n.endpoint,
          ok: false as const,
          error: `${err.code ?? 'FAILED'}: ${err.message}`,
        };
      }
    }),
  );
  ctx.emit(
    outcomes,
    outcomes
      .map((o) => `node ${o.node.slice(0, 12)}… (${o.endpoint}): ${o.ok ? what : `failed, ${o.error}`}`)
      .join('\n'),
  );
  if (!outcomes.some((o) => o.ok)) throw new CliError(`no node accepted it`);
}

/** `flux app secret set NAME KEY`: the value from a hidden prompt or stdin, sealed per node. */
export async function appSecretSet(ctx: CommandContext): Promise<void> {
  const [name, rawKey] = ctx.positionals;
  const key = checkedName(rawKey);
  const value = await readValue(ctx, key);
  const checked = checkSecretValue(value);
  if (!checked.ok) throw new CliError(`${checked.code}: ${checked.message}`, 2);
  const { nodes, key: owner } = await holders(ctx, name);
  // The owner's clock: a later set wins on every node, an older one never overwrites it.
  const version = Date.now();
  await toEach(ctx, `set ${key} (version ${version})`, nodes, async (n) => {
    const record = await ctx.client().node({ params: { id: n.id } });
    const sealed = seal(
      value,
      fromHex(record.operator),
      secretAd(name, key, version, n.id),
      new Uint8Array(randomBytes(32)),
    );
    await createClient({ baseUrl: `http://${n.endpoint}`, sign: ownerSigner(owner, n.id) }).appSecretSet({
      params: { name, key },
      body: { version, sealed: Buffer.from(sealed).toString('base64') },
    });
  });
  value.fill(0);
}

/** `flux app secret unset NAME KEY`. */
export async function appSecretUnset(ctx: CommandContext): Promise<void> {
  const [name, rawKey] = ctx.positionals;
  const key = checkedName(rawKey);
  const { nodes, key: owner } = await holders(ctx, name);
  const version = Date.now();
  await toEach(ctx, `unset ${key}`, nodes, async (n) => {
    await createClient({ baseUrl: `http://${n.endpoint}`, sign: ownerSigner(owner, n.id) }).appSecretUnset({
      params: { name, key },
      query: { version },
    });
  });
}

/** `flux app secret list NAME`: names and versions each node holds (never values). */
export async function appSecretList(ctx: CommandContext): Promise<void> {
  const [name] = ctx.positionals;
  const { nodes, key: owner } = await holders(ctx, name);
  const answers = await Promise.all(
    nodes.map(async (n) => {
      try {
        const a = await createClient({
          baseUrl: `http://${n.endpoint}`,
          sign: ownerSigner(owner, n.id),
        }).appSecrets({
          params: { name },
        });
        return { node: n.id, endpoint: n.endpoint, secrets: a.secrets };
      } catch (e) {
        const err = e as Error & { code?: string };
        return { node: n.id, endpoint: n.endpoint, error: `${err.code ?? 'FAILED'}: ${err.message}` };
      }
    }),
  );
  ctx.emit(
    answers,
    answers
      .flatMap((a) => [
        `node ${a.node.slice(0, 12)}… (${a.endpoint})${a.error ? `: failed, ${a.error}` : a.secrets?.length ? '' : ': no secrets'}`,
        ...(a.secrets ?? []).map(
          (s) => `  ${s.key.padEnd(24)} version ${s.version} (${new Date(s.version).toISOString()})`,
        ),
      ])
      .join('\n'),
  );
}
