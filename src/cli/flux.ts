// The `flux` command (and `fluxd`, which is `flux node run`).
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { formatFlux } from '../api/amount.ts';
import { ApiError, type ChainInfoJson } from '../api/client.ts';
import { WalletError } from '../wallet/keystore.ts';
import { type CommandContext, createContext } from './context.ts';
import { CliError, type CliIo, processIo } from './io.ts';
import {
  walletAddAccount,
  walletBalance,
  walletCreate,
  walletImport,
  walletList,
  walletSend,
} from './wallet.ts';

interface Command {
  usage: string;
  summary: string;
  options?: ParseArgsOptionsConfig;
  /** Minimum and maximum number of positional arguments. */
  args: [number, number];
  /** Resolves to the exit status, or to nothing for 0. */
  run(ctx: CommandContext): Promise<unknown>;
}

const COMMON: ParseArgsOptionsConfig = {
  api: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
const WALLET_DIR: ParseArgsOptionsConfig = { 'wallet-dir': { type: 'string' } };
const NEW_WALLET: ParseArgsOptionsConfig = {
  ...WALLET_DIR,
  network: { type: 'string' },
  accounts: { type: 'string' },
};
const APP_TX: ParseArgsOptionsConfig = {
  ...WALLET_DIR,
  from: { type: 'string' },
  'no-wait': { type: 'boolean' },
  timeout: { type: 'string' },
};
/** Commands signed by an app owner's wallet key: the account that owns the app, or --from. */
const OWNER: ParseArgsOptionsConfig = { ...WALLET_DIR, from: { type: 'string' } };
const NODE_RUN: ParseArgsOptionsConfig = {
  network: { type: 'string' },
  datadir: { type: 'string' },
  mine: { type: 'boolean' },
  'miner-address': { type: 'string' },
  'api-port': { type: 'string' },
  'api-host': { type: 'string' },
  'sig-threads': { type: 'string' },
  host: { type: 'string' },
  'p2p-port': { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  genesis: { type: 'string' },
  'no-p2p': { type: 'boolean' },
  'ingress-port': { type: 'string' },
  'ingress-domain': { type: 'string' },
  'remove-apps-on-stop': { type: 'boolean' },
  'docker-socket': { type: 'string' },
  'stop-on-stdin-close': { type: 'boolean' },
  'log-time': { type: 'boolean' },
};

const commands: Record<string, Command> = {
  'wallet create': {
    usage: 'flux wallet create [--network N] [--accounts N] [--wallet-dir DIR]',
    summary: 'new wallet; the recovery phrase is shown once (on stderr, or in the --json output)',
    options: NEW_WALLET,
    args: [0, 0],
    run: walletCreate,
  },
  'wallet import': {
    usage:
      'flux wallet import [--network N] [--accounts N] [--wallet-dir DIR]  (phrase from the prompt or stdin)',
    summary: 'wallet from an existing recovery phrase',
    options: NEW_WALLET,
    args: [0, 0],
    run: walletImport,
  },
  'wallet list': {
    usage: 'flux wallet list [--wallet-dir DIR]',
    summary: "the wallet's accounts",
    options: WALLET_DIR,
    args: [0, 0],
    run: walletList,
  },
  'wallet add-account': {
    usage: 'flux wallet add-account [--wallet-dir DIR]',
    summary: 'derive the next account of the wallet',
    options: WALLET_DIR,
    args: [0, 0],
    run: walletAddAccount,
  },
  'wallet balance': {
    usage: 'flux wallet balance [ADDR] [--wallet-dir DIR]',
    summary: 'balance of an address, or of every account of the wallet',
    options: WALLET_DIR,
    args: [0, 1],
    run: walletBalance,
  },
  'wallet send': {
    usage:
      'flux wallet send TO AMOUNT [--fee F] [--from INDEX|ADDR] [--memo TEXT] [--wait] [--wallet-dir DIR]',
    summary: 'send FLUX (AMOUNT and F in FLUX, up to 8 decimals; fee defaults to the minimum)',
    options: {
      ...WALLET_DIR,
      fee: { type: 'string' },
      from: { type: 'string' },
      memo: { type: 'string' },
      wait: { type: 'boolean' },
    },
    args: [2, 2],
    run: walletSend,
  },
  'chain info': {
    usage: 'flux chain info',
    summary: 'network, height, tip, work, difficulty, supply, next subsidy',
    args: [0, 0],
    async run(ctx) {
      const i = await ctx.client().chainInfo();
      ctx.emit(
        i,
        [
          `network         ${i.network} (chain ${i.chainId})`,
          `height          ${i.height}`,
          `tip             ${i.tipHash}`,
          `tip time        ${new Date(i.tipTime).toISOString()}`,
          `cumulative work ${i.cumulativeWork}`,
          `difficulty      ${i.difficulty.work} hashes/block (target ${i.difficulty.target})`,
          `supply          ${formatFlux(BigInt(i.supply.minted))} FLUX of ${formatFlux(BigInt(i.supply.maxSupply))}`,
          `next subsidy    ${formatFlux(BigInt(i.nextSubsidy))} FLUX`,
          `mempool         ${i.mempoolSize} txs`,
          ...(i.peers === undefined ? [] : [`peers           ${i.peers}${i.syncing ? ' (syncing)' : ''}`]),
          ...consensusLines(i),
        ].join('\n'),
      );
    },
  },
  'block get': {
    usage: 'flux block get HEIGHT|HASH',
    summary: 'a block by height or hash',
    args: [1, 1],
    async run(ctx) {
      const b = await ctx.client().block({ params: { id: ctx.positionals[0] } });
      ctx.emit(
        b,
        [
          `block ${b.height}  ${b.hash}`,
          `parent  ${b.header.parent}`,
          `time    ${new Date(b.header.time).toISOString()}`,
          `miner   ${b.header.miner}`,
          `target  ${b.header.target}`,
          `size    ${b.size} bytes, ${b.txs.length} txs`,
          ...b.txs.map(
            (t) =>
              `  ${t.id}  ${t.kind}${t.transfer ? ` ${formatFlux(BigInt(t.transfer.amount))} FLUX -> ${t.transfer.to}` : ''}`,
          ),
        ].join('\n'),
      );
    },
  },
  'tx get': {
    usage: 'flux tx get ID',
    summary: 'a transaction by id, mined or pending',
    args: [1, 1],
    async run(ctx) {
      const t = await ctx.client().tx({ params: { id: ctx.positionals[0] } });
      ctx.emit(
        t,
        [
          `tx ${t.id}  ${t.status}${t.height !== undefined ? ` at height ${t.height}` : ''}`,
          `from    ${t.from}  (nonce ${t.nonce})`,
          ...(t.transfer
            ? [`to      ${t.transfer.to}`, `amount  ${formatFlux(BigInt(t.transfer.amount))} FLUX`]
            : [`kind    ${t.kind}`]),
          `fee     ${formatFlux(BigInt(t.fee))} FLUX (${t.size} bytes)`,
        ].join('\n'),
      );
    },
  },
  supply: {
    usage: 'flux supply [--at HEIGHT]',
    summary: 'minted, locked and maximum supply',
    options: { at: { type: 'string' } },
    args: [0, 0],
    async run(ctx) {
      const at = ctx.values.at as string | undefined;
      const s = await ctx.client().supply({ query: { at } });
      ctx.emit(
        s,
        [
          `height        ${s.height}`,
          `minted        ${formatFlux(BigInt(s.minted))} FLUX`,
          `locked        ${formatFlux(BigInt(s.locked))} FLUX`,
          `max supply    ${formatFlux(BigInt(s.maxSupply))} FLUX`,
          `next subsidy  ${formatFlux(BigInt(s.nextSubsidy))} FLUX`,
        ].join('\n'),
      );
    },
  },
  'node run': {
    usage:
      'flux node run [--network devnet|testnet|mainnet] [--datadir DIR] [--mine [--miner-address ADDR]] [--host IP] [--api-port P] [--api-host H] [--p2p-port P] [--bootstrap MULTIADDR]... [--genesis FILE] [--no-p2p] [--sig-threads N] [--ingress-port P [--ingress-domain D]] [--remove-apps-on-stop] [--docker-socket PATH] [--stop-on-stdin-close] [--log-time]',
    summary: 'run the node (same as fluxd)',
    options: NODE_RUN,
    args: [0, 0],
    async run(ctx) {
      const { runDaemon } = await import('./daemon.ts');
      return runDaemon(ctx);
    },
  },
  'node start': {
    usage:
      'flux node start --tier cumulus|nimbus|stratus --endpoint HOST:PORT (--operator PUBKEY | --operator-key HEX | --datadir DIR) [--region EU-DE] [--deposit F] [--from INDEX|ADDR] [--wait]',
    summary: "lock a tier's collateral from the wallet and name the node's operator key",
    options: {
      ...WALLET_DIR,
      tier: { type: 'string' },
      endpoint: { type: 'string' },
      operator: { type: 'string' },
      'operator-key': { type: 'string' },
      datadir: { type: 'string' },
      region: { type: 'string' },
      deposit: { type: 'string' },
      from: { type: 'string' },
      wait: { type: 'boolean' },
    },
    args: [0, 0],
    run: async (ctx) => (await import('./nodes.ts')).nodeStart(ctx),
  },
  'node list': {
    usage: 'flux node list [--tier T] [--status started|confirmed|expired|unlocking|closed|lapsed]',
    summary: 'FluxNodes with state, confirmation, last payout, queue position and rewards',
    options: { tier: { type: 'string' }, status: { type: 'string' } },
    args: [0, 0],
    run: async (ctx) => (await import('./nodes.ts')).nodeList(ctx),
  },
  'node status': {
    usage: 'flux node status ID',
    summary: "one FluxNode's state, confirmations, payouts and last benchmark report",
    args: [1, 1],
    run: async (ctx) => (await import('./nodes.ts')).nodeStatus(ctx),
  },
  'node payouts': {
    usage: 'flux node payouts ID',
    summary: "a FluxNode's rewards and its place in the payout queue",
    args: [1, 1],
    run: async (ctx) => (await import('./nodes.ts')).nodePayouts(ctx),
  },
  'node stop': {
    usage: 'flux node stop ID [--from INDEX|ADDR] [--wait]',
    summary: "begin the collateral's unlock (spendable after the unlock delay)",
    options: { ...WALLET_DIR, from: { type: 'string' }, wait: { type: 'boolean' } },
    args: [1, 1],
    run: async (ctx) => (await import('./nodes.ts')).nodeStop(ctx),
  },
  'node benchmark': {
    usage: 'flux node benchmark [--network N] [--datadir DIR] [--quick]',
    summary: 'measure this machine and say which tier it qualifies for (and why not the next)',
    options: { network: { type: 'string' }, datadir: { type: 'string' }, quick: { type: 'boolean' } },
    args: [0, 0],
    run: async (ctx) => (await import('./nodes.ts')).nodeBenchmark(ctx),
  },
  mine: {
    usage: 'flux mine [--network N] [--datadir DIR] [--miner-address ADDR] [node run options]',
    summary: 'run the node and mine (PoW, then PoUW jobs after activation) with a live display on stderr',
    options: NODE_RUN,
    args: [0, 0],
    async run(ctx) {
      const { runDaemon } = await import('./daemon.ts');
      return runDaemon({ ...ctx, values: { ...ctx.values, mine: true } });
    },
  },
  'job submit': {
    usage: 'flux job submit A.npy B.npy --fee F [--from INDEX|ADDR]',
    summary: 'submit A*B (int8 in [-64, 63], .npy or .fxm) with a fee for the miner; prints the job id',
    options: { ...WALLET_DIR, fee: { type: 'string' }, from: { type: 'string' } },
    args: [2, 2],
    run: async (ctx) => (await import('./jobs.ts')).jobSubmit(ctx),
  },
  'job status': {
    usage: 'flux job status ID',
    summary: "a job's state: open, claimed, delivered, paid, refuted or lapsed",
    args: [1, 1],
    run: async (ctx) => (await import('./jobs.ts')).jobStatus(ctx),
  },
  'job result': {
    usage: 'flux job result ID -o C.npy',
    summary: 'fetch the product (int32) and check it against the product root on chain',
    options: { out: { type: 'string', short: 'o' } },
    args: [1, 1],
    run: async (ctx) => (await import('./jobs.ts')).jobResult(ctx),
  },
  'job verify': {
    usage: 'flux job verify ID [--samples N]',
    summary: 'recompute entries of the product from A and B (all of them for small jobs)',
    options: { samples: { type: 'string' } },
    args: [1, 1],
    run: async (ctx) => (await import('./jobs.ts')).jobVerify(ctx),
  },
  'job challenge': {
    usage: 'flux job challenge ID --row I --col J [--from INDEX|ADDR]',
    summary: 'prove a wrong entry of a delivered product on chain; the fee returns to the owner',
    options: { ...WALLET_DIR, row: { type: 'string' }, col: { type: 'string' }, from: { type: 'string' } },
    args: [1, 1],
    run: async (ctx) => (await import('./jobs.ts')).jobChallenge(ctx),
  },
  'app price': {
    usage: 'flux app price APP.yaml',
    summary: 'validate an app spec and print its price, itemised',
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appPriceCommand(ctx),
  },
  'app url': {
    usage: 'flux app url NAME [--ingress URL] [--domain D]',
    summary: 'where the app answers: through an ingress (by Host or /apps/NAME/) and its instances',
    options: { ingress: { type: 'string' }, domain: { type: 'string' } },
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appUrl(ctx),
  },
  'app deploy': {
    usage: 'flux app deploy APP.yaml [--from INDEX|ADDR] [--no-wait] [--timeout S]',
    summary: 'validate, pay, register, then follow until every instance runs; prints node and endpoint',
    options: APP_TX,
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appDeploy(ctx),
  },
  'app update': {
    usage: 'flux app update APP.yaml [--from INDEX|ADDR] [--no-wait] [--timeout S]',
    summary: 'new spec for an app you own; pays (or refunds) the price difference',
    options: APP_TX,
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appUpdate(ctx),
  },
  'app extend': {
    usage: 'flux app extend NAME BLOCKS [--from INDEX|ADDR]',
    summary: 'pay for BLOCKS more blocks of an app',
    options: APP_TX,
    args: [2, 2],
    run: async (ctx) => (await import('./apps.ts')).appExtend(ctx),
  },
  'app cancel': {
    usage: 'flux app cancel NAME [--from INDEX|ADDR]',
    summary: 'end an app you own now; the unused blocks are refunded',
    options: APP_TX,
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appCancel(ctx),
  },
  'app status': {
    usage: 'flux app status NAME [--json]',
    summary: "each instance's node, state, since and reason",
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appStatus(ctx),
  },
  'app list': {
    usage: 'flux app list',
    summary: 'registered apps and where they are placed',
    args: [0, 0],
    run: async (ctx) => (await import('./apps.ts')).appList(ctx),
  },
  'app logs': {
    usage: 'flux app logs NAME [--instance N] [--component C] [--tail N] [--follow] [--from INDEX|ADDR]',
    summary: "an instance's container output, from the node that runs it (signed by the owner's key)",
    options: {
      ...OWNER,
      instance: { type: 'string' },
      component: { type: 'string' },
      tail: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
    },
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appLogs(ctx),
  },
  'app stats': {
    usage: 'flux app stats NAME [--instance N] [--from INDEX|ADDR]',
    summary: "CPU, memory, network and disk of each instance's containers (signed by the owner's key)",
    options: { ...OWNER, instance: { type: 'string' } },
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appStats(ctx),
  },
  'app restart': {
    usage: 'flux app restart NAME [--instance N] [--component C] [--from INDEX|ADDR]',
    summary: "restart an app's containers on the nodes that run it (signed by the owner's key)",
    options: { ...OWNER, instance: { type: 'string' }, component: { type: 'string' } },
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appRestart(ctx),
  },
  'app secret set': {
    usage: 'flux app secret set NAME KEY [--from INDEX|ADDR]  (the value from a hidden prompt, or stdin)',
    summary:
      "put a secret into the app's environment: sealed to each hosting node's operator key, sent signed by the owner's key",
    options: OWNER,
    args: [2, 2],
    run: async (ctx) => (await import('./secrets.ts')).appSecretSet(ctx),
  },
  'app secret list': {
    usage: 'flux app secret list NAME [--from INDEX|ADDR]',
    summary: "the names and versions of an app's secrets on each hosting node (never values)",
    options: OWNER,
    args: [1, 1],
    run: async (ctx) => (await import('./secrets.ts')).appSecretList(ctx),
  },
  'app secret unset': {
    usage: 'flux app secret unset NAME KEY [--from INDEX|ADDR]',
    summary: "remove a secret from the app's environment on each hosting node",
    options: OWNER,
    args: [2, 2],
    run: async (ctx) => (await import('./secrets.ts')).appSecretUnset(ctx),
  },
  'app exec': {
    usage: 'flux app exec NAME [--instance N] [--component C] [--from INDEX|ADDR] [-- CMD [ARGS...]]',
    summary:
      "run CMD (default sh) in an instance's container, attached to this terminal: a pseudo-terminal when stdin is one (Ctrl-C goes to CMD); exits with CMD's status (signed by the owner's key)",
    options: { ...OWNER, instance: { type: 'string' }, component: { type: 'string' } },
    args: [1, 65],
    run: async (ctx) => (await import('./exec.ts')).appExec(ctx),
  },
  'app backup': {
    usage: 'flux app backup NAME [--volume V] [--instance N] [-o FILE] [--from INDEX|ADDR]',
    summary:
      "download a consistent tar of an app volume from the node of instance #0 or --instance (its container paused while read; signed by the owner's key); default file NAME-VOLUME-TIME.tar",
    options: {
      ...OWNER,
      instance: { type: 'string' },
      volume: { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appBackup(ctx),
  },
  'app restore': {
    usage: 'flux app restore NAME FILE.tar [--volume V] [--instance N] [--from INDEX|ADDR]',
    summary:
      "replace an app volume with a tar on every node that hosts the app, or only --instance's (volumes are local to each node); its container is stopped for the swap and started again (signed by the owner's key)",
    options: { ...OWNER, instance: { type: 'string' }, volume: { type: 'string' } },
    args: [2, 2],
    run: async (ctx) => (await import('./apps.ts')).appRestore(ctx),
  },
  'app convert': {
    usage: 'flux app convert docker-compose.yml [--env-file .env] [--name NAME] [--network N] [-o APP.yaml]',
    summary:
      "turn a compose file into an app spec (variables from --env-file, then this shell's environment, which wins as in docker compose); says what it could not carry over",
    options: {
      'env-file': { type: 'string' },
      name: { type: 'string' },
      network: { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appConvert(ctx),
  },
  'app import-flux': {
    usage: 'flux app import-flux SPEC.json [--name NAME] [--network N] [-o APP.yaml]',
    summary:
      'turn a FluxOS app spec (versions 1-8, as FluxOS or its API gives it) into an app spec; says what it could not carry over and why',
    options: {
      name: { type: 'string' },
      network: { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
    args: [1, 1],
    run: async (ctx) => (await import('./apps.ts')).appImportFlux(ctx),
  },
  'app build-example': {
    usage: 'flux app build-example',
    summary: 'build the example app image (examples/hello-web) from /bin/busybox into the local Docker',
    args: [0, 0],
    run: async (ctx) => (await import('./apps.ts')).appBuildExample(ctx),
  },
  'devnet up': {
    usage:
      'flux devnet up [--nodes N] [--miners M] [--dir DIR] [--app FILE] [--detach] [--reset] [--free-ports] [--docker-socket PATH]  (DIR defaults to ./.data/devnet)',
    summary:
      'a local devnet of N node processes (default 3; the first M, default 2, mine) that deploys the app spec FILE when given; --detach returns at once',
    options: {
      app: { type: 'string' },
      nodes: { type: 'string' },
      miners: { type: 'string' },
      dir: { type: 'string' },
      detach: { type: 'boolean' },
      reset: { type: 'boolean' },
      'free-ports': { type: 'boolean' },
      'docker-socket': { type: 'string' },
    },
    args: [0, 0],
    async run(ctx) {
      const { devnetUp } = await import('./devnet.ts');
      return devnetUp(ctx);
    },
  },
  'devnet status': {
    usage: 'flux devnet status [--dir DIR]',
    summary: "each devnet node's height, peers and tip, side by side",
    options: { dir: { type: 'string' } },
    args: [0, 0],
    async run(ctx) {
      const { devnetStatus } = await import('./devnet.ts');
      return devnetStatus(ctx);
    },
  },
  'devnet down': {
    usage: 'flux devnet down [--dir DIR] [--timeout SECONDS] [--keep-apps]',
    summary:
      'stop the devnet nodes (SIGTERM, then SIGKILL after the timeout, default 15 s) and remove their app containers (not with --keep-apps)',
    options: { dir: { type: 'string' }, timeout: { type: 'string' }, 'keep-apps': { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const { devnetDown } = await import('./devnet.ts');
      return devnetDown(ctx);
    },
  },
};

/** The consensus lines of `flux chain info`. */
function consensusLines(i: ChainInfoJson): string[] {
  if (!i.consensus) return [];
  const p = i.pouw;
  const at = p?.activationHeight;
  if (i.consensus === 'pow') {
    return [
      `consensus       proof of work${at === null || at === undefined ? '' : ` (PoUW from height ${at})`}`,
    ];
  }
  return [
    `consensus       proof of useful work (since height ${at})`,
    ...(p
      ? [
          `paid jobs       ${p.recentJobBlocks} of the last ${p.recentBlocks} blocks (${Math.round(p.jobShare * 100)}%), ${p.openJobs} open`,
        ]
      : []),
  ];
}

/** The commands of a group (`flux job`), or every command. */
function usage(group?: string): string {
  const listed = Object.entries(commands).filter(
    ([name]) => group === undefined || name.startsWith(`${group} `),
  );
  const width = Math.max(...listed.map(([name]) => name.length));
  return [
    group === undefined ? 'usage: flux COMMAND [options]' : `usage: flux ${group} COMMAND [options]`,
    '',
    ...listed.map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    ...(group === undefined ? [] : [`\`flux ${group} COMMAND --help\` shows one command's options.`]),
    'Every command takes --api URL (default http://127.0.0.1:16127, or FLUX_API) and --json.',
    'Wallet commands read --wallet-dir (or FLUX_WALLET_DIR, default ~/.openflux/wallet) and',
    'the password from a prompt or FLUX_PASSWORD.',
  ].join('\n');
}

/** Runs the CLI; returns the exit status. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const key2 = argv.slice(0, 2).join(' ');
  const key3 = argv.slice(0, 3).join(' ');
  const name = commands[key3] ? key3 : commands[key2] ? key2 : commands[argv[0] ?? ''] ? argv[0] : undefined;
  if (name === undefined) {
    const isHelp = (a: string | undefined) => a === 'help' || a === '--help' || a === '-h';
    // `flux help job` is `flux job --help`.
    const words = isHelp(argv[0]) && argv[1] !== undefined ? [argv[1], '--help'] : argv;
    const group = Object.keys(commands).some((c) => c.startsWith(`${words[0]} `)) ? words[0] : undefined;
    if (group !== undefined) {
      if (isHelp(words[1])) {
        io.stdout.write(`${usage(group)}\n`);
        return 0;
      }
      const what =
        words[1] === undefined
          ? `flux ${group}: which command?`
          : `flux: unknown command '${group} ${words[1]}'`;
      io.stderr.write(`${what}\n\n${usage(group)}\n`);
      return 2;
    }
    if (isHelp(argv[0])) {
      io.stdout.write(`${usage()}\n`);
      return 0;
    }
    if (argv.length === 0) {
      io.stderr.write(`${usage()}\n`);
      return 2;
    }
    io.stderr.write(`flux: unknown command '${argv.slice(0, 2).join(' ')}'\n\n${usage()}\n`);
    return 2;
  }
  const command = commands[name];
  // Negative numbers are values (to be refused with a clear message), not options.
  const negatives: string[] = [];
  const rest = argv.slice(name.split(' ').length).map((a) => {
    if (!/^-[0-9.]/.test(a)) return a;
    negatives.push(a);
    return `\u0000${negatives.length - 1}`;
  });
  const restore = (v: string) => (v.startsWith('\u0000') ? negatives[Number(v.slice(1))] : v);
  let values: Record<string, string | string[] | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...COMMON, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    values = Object.fromEntries(
      Object.entries(parsed.values).map(([k, v]) => [
        k,
        typeof v === 'string' ? restore(v) : Array.isArray(v) ? v.map((x) => restore(String(x))) : v,
      ]),
    );
    positionals = parsed.positionals.map(restore);
  } catch (e) {
    io.stderr.write(`flux ${name}: ${(e as Error).message}\nusage: ${command.usage}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`usage: ${command.usage}\n  ${command.summary}\n`);
    return 0;
  }
  const [min, max] = command.args;
  if (positionals.length < min || positionals.length > max) {
    io.stderr.write(
      `flux ${name}: expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${positionals.length}\nusage: ${command.usage}\n`,
    );
    return 2;
  }
  const ctx = createContext(io, values, positionals);
  try {
    const status = await command.run(ctx);
    return typeof status === 'number' ? status : 0;
  } catch (e) {
    if (e instanceof ApiError) {
      io.stderr.write(`flux ${name}: ${e.code === 'UNREACHABLE' ? '' : `${e.code}: `}${e.message}\n`);
      return 1;
    }
    if (e instanceof CliError || e instanceof WalletError) {
      io.stderr.write(`flux ${name}: ${e.message}\n`);
      return e instanceof CliError ? e.exitCode : 1;
    }
    io.stderr.write(`flux ${name}: unexpected error: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
