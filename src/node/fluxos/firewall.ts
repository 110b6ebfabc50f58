// Walls app containers off from the node itself. A container reaches the host at its bridge's
// gateway (and at every other host address): where the node's p2p port (0.0.0.0 off devnets), its
// API or anything else listens. One INPUT rule per IP family drops every new connection that
// arrives from an app bridge (`ofx+`, see APP_BRIDGE_PREFIX); replies to connections the host
// opened (the ingress through a published port) still pass. Traffic between two app bridges never
// reaches INPUT: Docker's own isolation chains drop it in FORWARD.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { APP_BRIDGE_PREFIX } from './options.ts';

export interface HostFirewall {
  /** Installs the rule where it is missing; rejects with the reason when it cannot. */
  ensure(): Promise<void>;
}

/** The rule, as iptables arguments after the chain. */
export const WALL_RULE = [
  '-i',
  `${APP_BRIDGE_PREFIX}+`,
  '-m',
  'conntrack',
  '!',
  '--ctstate',
  'ESTABLISHED,RELATED',
  '-j',
  'DROP',
  '-m',
  'comment',
  '--comment',
  'openflux: app containers do not reach the node',
];

export type Exec = (file: string, args: string[]) => Promise<void>;

const run: Exec = async (file, args) => {
  await promisify(execFile)(file, args, { timeout: 10_000 });
};

/**
 * The wall over iptables (IPv4, required) and ip6tables (where the host has it). Needs root or
 * CAP_NET_ADMIN, and only makes sense where the Docker engine runs on this machine.
 */
export function createIptablesFirewall(opts: { exec?: Exec } = {}): HostFirewall {
  const exec = opts.exec ?? run;
  const ensureIn = async (bin: string) => {
    try {
      await exec(bin, ['-w', '-C', 'INPUT', ...WALL_RULE]);
    } catch {
      await exec(bin, ['-w', '-I', 'INPUT', '1', ...WALL_RULE]);
    }
  };
  return {
    async ensure() {
      try {
        await ensureIn('iptables');
      } catch (e) {
        const why = ((e as { stderr?: string }).stderr || (e as Error).message).trim();
        throw new Error(`cannot wall app containers off from this node (iptables): ${why}`);
      }
      // Docker gives app bridges no IPv6 address of their own, but the host side has a link-local one.
      await ensureIn('ip6tables').catch(() => undefined);
    },
  };
}
