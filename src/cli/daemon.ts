// `fluxd` / `flux node run`: options -> createNode, log lines on stderr (sync progress among
// them), clean stop on a signal.
import { isIP } from 'node:net';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { decodeAddress } from '../core/crypto/keys.ts';
import { type NetworkName, presets } from '../core/params/index.ts';
import { DEFAULT_API_PORT } from '../node/api/server.ts';
import { devnetMinerAddress } from '../node/genesis.ts';
import { startMinerDisplay } from '../node/miner/display.ts';
import { createNode } from '../node/node.ts';
import type { CommandContext } from './context.ts';
import { CliError } from './io.ts';

export async function runDaemon(ctx: CommandContext): Promise<number> {
  const v = ctx.values;
  const network = (v.network as string | undefined) ?? 'devnet';
  if (!Object.hasOwn(presets, network))
    throw new CliError(`--network must be devnet, testnet or mainnet, not ${network}`, 2);
  const params = presets[network as NetworkName];
  const datadir =
    (v.datadir as string | undefined) ?? join(ctx.io.env.HOME ?? homedir(), '.openflux', network);

  const portText = (v['api-port'] as string | undefined) ?? String(DEFAULT_API_PORT);
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new CliError(`--api-port must be a port number from 0 to 65535, not ${portText}`, 2);
  }
  const bindHost = v.host as string | undefined;
  if (bindHost !== undefined && !isIP(bindHost))
    throw new CliError(`--host must be an IP address such as 127.0.0.2, not ${bindHost}`, 2);
  const host = (v['api-host'] as string | undefined) ?? bindHost ?? '127.0.0.1';
  const p2pPortText = v['p2p-port'] as string | undefined;
  if (p2pPortText !== undefined && (!/^[0-9]{1,5}$/.test(p2pPortText) || Number(p2pPortText) > 65535)) {
    throw new CliError(`--p2p-port must be a port number from 0 to 65535, not ${p2pPortText}`, 2);
  }
  const ingressText = v['ingress-port'] as string | undefined;
  if (ingressText !== undefined && (!/^[0-9]{1,5}$/.test(ingressText) || Number(ingressText) > 65535)) {
    throw new CliError(`--ingress-port must be a port number from 0 to 65535, not ${ingressText}`, 2);
  }
  const bootstrap = (v.bootstrap as string[] | undefined) ?? [];
  for (const addr of bootstrap) {
    if (!/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/[0-9]{1,5}\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(addr)) {
      throw new CliError(
        `--bootstrap must be a multiaddr like /ip4/127.0.0.2/tcp/4001/p2p/12D3Koo..., not ${addr}`,
        2,
      );
    }
  }
  const genesisFile = v.genesis as string | undefined;
  if (genesisFile !== undefined && network !== 'devnet')
    throw new CliError('--genesis is for devnet only (other networks have a fixed genesis)', 2);
  // By default a block's signatures are checked on every core (none when there is only one).
  const cores = availableParallelism();
  const threadsText = (v['sig-threads'] as string | undefined) ?? String(cores > 1 ? cores : 0);
  if (!/^[0-9]{1,3}$/.test(threadsText))
    throw new CliError(`--sig-threads must be a small integer, not ${threadsText}`, 2);

  let minerAddress: Uint8Array | undefined;
  if (v['miner-address'] !== undefined) {
    const decoded = decodeAddress(params.addressPrefix, v['miner-address'] as string);
    if (!decoded.ok) throw new CliError(`--miner-address: ${decoded.error}`, 2);
    minerAddress = decoded.address;
  } else if (v.mine) {
    if (network !== 'devnet') throw new CliError(`--mine on ${network} needs --miner-address ADDR`, 2);
    minerAddress = devnetMinerAddress();
  }

  // --log-time puts the wall-clock time (UTC, ms) before each line, for reading logs of several nodes side by side.
  const stamp = v['log-time'] === true ? () => `${new Date().toISOString()} ` : () => '';
  const log = (line: string) => ctx.io.stderr.write(`${stamp()}fluxd: ${line}\n`);
  let node: Awaited<ReturnType<typeof createNode>>;
  try {
    node = await createNode({
      network: network as NetworkName,
      datadir,
      api: { host, port: Number(portText) },
      p2p:
        v['no-p2p'] === true
          ? false
          : {
              host: bindHost,
              port: p2pPortText === undefined ? undefined : Number(p2pPortText),
              bootstrap,
            },
      genesisFile,
      mine: v.mine === true,
      minerAddress,
      signatureThreads: Number(threadsText),
      fluxos: {
        removeOnClose: v['remove-apps-on-stop'] === true,
        ...(v['docker-socket'] !== undefined ? { dockerSocket: v['docker-socket'] as string } : {}),
      },
      ingress:
        ingressText === undefined
          ? false
          : { host, port: Number(ingressText), domain: v['ingress-domain'] as string | undefined },
      log,
    });
  } catch (e) {
    throw new CliError(`could not start the node: ${(e as Error).message}`);
  }
  log(`${network} node running, datadir ${datadir}; Ctrl-C stops it`);
  const stopDisplay = node.miner ? startMinerDisplay(node.miner, log) : undefined;
  if (ctx.json) {
    ctx.io.stdout.write(
      `${JSON.stringify({
        event: 'ready',
        network,
        datadir,
        api: node.url,
        ingress: node.ingress?.url,
        height: node.chain.tip().height,
        peerId: node.p2p?.peerId,
        p2p: node.p2p?.multiaddrs() ?? [],
        pid: process.pid,
      })}\n`,
    );
  }

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    // The devnet's foreground `up` holds our stdin: when it dies, even by SIGKILL, we stop too.
    if (v['stop-on-stdin-close'] === true) {
      process.stdin.on('close', () => resolve('stdin closed'));
      process.stdin.on('end', () => resolve('stdin closed'));
      process.stdin.resume();
    }
  });
  log(`${signal}: shutting down`);
  stopDisplay?.();
  await node.close();
  log('stopped');
  return 0;
}
