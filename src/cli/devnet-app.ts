// `flux devnet up --app FILE`: once the nodes answer, the devnet deploys an app, paid by devnet
// account 3 of DEVNET_MNEMONIC (funded at genesis, owning no FluxNode), and follows it until
// every instance runs. The example image is built into the local Docker engine first when the
// spec uses it. Without a Docker engine the devnet runs on and says why the app cannot.
import { readFile } from 'node:fs/promises';
import { formatFlux } from '../api/amount.ts';
import { createClient } from '../api/client.ts';
import { encodeAppRegister } from '../core/apps/handlers.ts';
import { appPrice } from '../core/apps/price.ts';
import { type AppSpec, parseAppSpec } from '../core/apps/spec.ts';
import { blockHash } from '../core/codec/ids.ts';
import { TxKind } from '../core/codec/types.ts';
import { toHex } from '../core/crypto/hash.ts';
import { deriveKeyPair } from '../core/crypto/hd.ts';
import { DEVNET_MNEMONIC, devnet } from '../core/params/index.ts';
import { genesisBlock } from '../core/transition/genesis.ts';
import { LABELS } from '../node/fluxos/options.ts';
import { createDockerRuntime, engineMessage } from '../node/fluxos/runtime.ts';
import { readDevnetGenesis } from '../node/genesis.ts';
import { follow, instanceLine } from './apps.ts';
import type { CommandContext } from './context.ts';
import { CliError } from './io.ts';
import { submitSigned } from './nodes.ts';
import { waitMined } from './wallet.ts';

/** The devnet account that pays for the app (index 3: funded, owns no FluxNode). */
export const DEVNET_APP_ACCOUNT = 3;

/** Reads and checks an app spec file for a devnet; a CliError names what is wrong. */
export async function checkAppFile(file: string): Promise<AppSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`--app: cannot read ${file}: ${(e as Error).message}`, 2);
  }
  const parsed = parseAppSpec(text, devnet);
  if (!parsed.ok) throw new CliError(`--app ${file}: ${parsed.error.message}`, 2);
  return parsed.spec;
}

/** Deploys the spec in `file` through `node`; false when no Docker engine could run it. */
export async function deployOnDevnet(
  ctx: CommandContext,
  file: string,
  node: { api: string; ingress?: string },
): Promise<boolean> {
  const spec = await checkAppFile(file);

  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  try {
    await docker.ping();
  } catch {
    ctx.note(`no Docker engine answers here, so ${spec.name} cannot run; the devnet runs without it`);
    return false;
  }
  const { buildExampleImage, EXAMPLE_IMAGE } = await import('../node/fluxos/example-image.ts');
  if (spec.components.some((c) => c.image === EXAMPLE_IMAGE)) {
    const present = await docker
      .getImage(EXAMPLE_IMAGE)
      .inspect()
      .then(() => true)
      .catch(() => false);
    if (!present) {
      ctx.note(`building ${EXAMPLE_IMAGE} into the local Docker engine`);
      await buildExampleImage(docker).catch((e: Error) => {
        throw new CliError(`could not build the example image: ${e.message}`);
      });
    }
  }

  // The commands below talk to node 0 and sign with the devnet account, not a wallet.
  const client = createClient({ baseUrl: node.api });
  const at: CommandContext = { ...ctx, api: node.api, client: () => client };
  const price = appPrice(spec, devnet.apps);
  ctx.note(
    `deploying ${spec.name} from devnet account ${DEVNET_APP_ACCOUNT}: ${spec.instances} instance(s), ${formatFlux(price.total)} FLUX`,
  );
  const key = deriveKeyPair(DEVNET_MNEMONIC, 0, DEVNET_APP_ACCOUNT);
  const existing = await client.app({ params: { name: spec.name } }).catch(() => undefined);
  if (!existing) {
    const sent = await submitSigned(
      at,
      key,
      TxKind.appRegister,
      encodeAppRegister(spec),
      price.total,
      spec.name,
    );
    await waitMined(at, sent.id);
  } else ctx.note(`${spec.name} is already registered on this devnet`);
  const status = await follow(at, spec.name, 1, 120_000);
  ctx.note(
    [
      `${spec.name} runs on ${status.running} node(s):`,
      ...status.instances.map(instanceLine),
      ...(node.ingress ? [`through any node's ingress: curl ${node.ingress}/apps/${spec.name}/`] : []),
    ].join('\n'),
  );
  return true;
}

/**
 * Removes every app container of the devnet whose genesis is in `genesisFile` (they carry the
 * chain's short id as a label); answers how many, or why none could be looked for.
 */
export async function removeDevnetApps(
  genesisFile: string,
): Promise<{ removed: number } | { error: string }> {
  const params = await readDevnetGenesis(genesisFile);
  if (params === undefined) return { error: `no devnet genesis in ${genesisFile}` };
  const network = toHex(blockHash(genesisBlock(params).header)).slice(0, 12);
  const { default: Docker } = await import('dockerode');
  const runtime = createDockerRuntime(new Docker());
  try {
    const found = await runtime.list({ [LABELS.network]: network });
    for (const c of found) await runtime.remove(c.id);
    return { removed: found.length };
  } catch (e) {
    return { error: engineMessage(e) };
  }
}
