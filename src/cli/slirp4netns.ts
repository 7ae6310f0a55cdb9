// slirp4netns's command line (1.2.0), for the tools that still speak it:
// Podman 4, Buildah 1.28, rootlesskit. Each option is translated into the
// pasta option with the same meaning and the result goes through parseCli, so
// there is one validated Config; what pasta has no option for (ready and exit
// descriptors, the API socket) is carried in Config.slirp.
//
// The guest environment is slirp4netns's: 10.0.2.100/24 in --cidr, gateway
// .2 (the host's loopback unless --disable-host-loopback), DNS .3 forwarded
// to the host's resolver, and fd00::/64 with gateway fd00::2 and DNS fd00::3.
import { Command, CommanderError } from 'commander';
import type { Config } from '../config.js';
import { CliError, EXIT_BAD_OPTIONS } from './errors.js';
import { type CliResult, parseCli, VERSION } from './index.js';
import { format4, mask4, parse4 } from '../wire/ip.js';

/** Podman 4.3.1 reads this text to decide which flags it may pass: keep slirp4netns's wording. */
export const SLIRP_HELP = `Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]
User-mode networking for unprivileged network namespaces.

-c, --configure          bring up the interface
-e, --exit-fd=FD         specify the FD for terminating slirp4netns
-r, --ready-fd=FD        specify the FD to write to when the network is configured
-m, --mtu=MTU            specify MTU (default=1500, max=65520)
-6, --enable-ipv6        enable IPv6 (experimental)
-a, --api-socket=PATH    specify API socket path
--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)
--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace
--netns-type=TYPE 	 specify network namespace type ([path|pid], default=pid)
--userns-path=PATH	 specify user namespace path
--enable-sandbox         create a new mount namespace (and drop all caps except CAP_NET_BIND_SERVICE if running as the root)
--enable-seccomp         enable seccomp to limit syscalls (experimental)
--outbound-addr=IPv4     sets outbound ipv4 address to bound to (experimental)
--outbound-addr6=IPv6    sets outbound ipv6 address to bound to (experimental)
--disable-dns            disables 10.0.2.3 (or configured internal ip) to host dns redirect (experimental)
--macaddress=MAC         specify the MAC address of the TAP (only valid with -c)
--target-type=TYPE       specify the target type ([netns|bess], default=netns)
-h, --help               show this help and exit
-v, --version            show version and exit
`;

interface SlirpOpts {
  configure?: boolean;
  exitFd?: string;
  readyFd?: string;
  mtu?: string;
  enableIpv6?: boolean;
  apiSocket?: string;
  cidr?: string;
  disableHostLoopback?: boolean;
  netnsType?: string;
  usernsPath?: string;
  outboundAddr?: string;
  outboundAddr6?: string;
  disableDns?: boolean;
  macaddress?: string;
  targetType?: string;
  help?: boolean;
  version?: boolean;
}

function fdNumber(label: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 2 ** 31 - 1) throw new CliError(`invalid ${label}: ${v}`);
  return Number(v);
}

/** --cidr A.B.C.D/N: the guest is .100 in it, the gateway .2 and DNS .3. */
function cidrPlan(cidr: string): { guest: string; gateway: string; dns: string; prefix: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  let base: number;
  try {
    base = m ? parse4(m[1]) : NaN;
  } catch {
    base = NaN;
  }
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || Number.isNaN(base) || !(prefix >= 1 && prefix <= 25)) throw new CliError(`invalid --cidr: ${cidr} (want A.B.C.D/N, N at most 25)`);
  const net = (base & mask4(prefix)) >>> 0;
  return { guest: format4(net + 100), gateway: format4(net + 2), dns: format4(net + 3), prefix };
}

export function parseSlirpCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, progName: string): CliResult {
  const cmd = new Command(progName)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .helpOption(false)
    .allowExcessArguments(true)
    .option('-c, --configure')
    .option('-e, --exit-fd <fd>')
    .option('-r, --ready-fd <fd>')
    .option('-m, --mtu <mtu>')
    .option('-6, --enable-ipv6')
    .option('-a, --api-socket <path>')
    .option('--cidr <cidr>')
    .option('--disable-host-loopback')
    .option('--netns-type <type>')
    .option('--userns-path <path>')
    .option('--enable-sandbox')
    .option('--enable-seccomp')
    .option('--outbound-addr <addr>')
    .option('--outbound-addr6 <addr>')
    .option('--disable-dns')
    .option('--macaddress <mac>')
    .option('--target-type <type>')
    .option('-h, --help')
    .option('-v, --version')
    .argument('[target]')
    .argument('[tapname]');
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { kind: 'exit', code: EXIT_BAD_OPTIONS, stderr: `${progName}: ${e.message.replace(/^error: /, '')}\n${SLIRP_HELP}` };
  }
  const o = cmd.opts<SlirpOpts>();
  if (o.help) return { kind: 'exit', code: 0, stdout: SLIRP_HELP };
  if (o.version) return { kind: 'exit', code: 0, stdout: `slirp4netns version 1.2.0 (pasta-ts ${VERSION})\n` };
  try {
    return translate(o, cmd.args, env, progName);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    return { kind: 'exit', code: EXIT_BAD_OPTIONS, stderr: `${progName}: ${e.message}\n` };
  }
}

function translate(o: SlirpOpts, args: string[], env: Readonly<Record<string, string | undefined>>, progName: string): CliResult {
  const [target, tap = 'tap0', ...extra] = args;
  if (!target) throw new CliError('PID or PATH of the network namespace is missing');
  if (extra.length > 0) throw new CliError(`too many arguments: ${extra.join(' ')}`);
  if (o.targetType !== undefined && o.targetType !== 'netns') throw new CliError(`unsupported --target-type: ${o.targetType}`);
  const netnsType = o.netnsType ?? 'pid';
  if (netnsType !== 'pid' && netnsType !== 'path') throw new CliError(`invalid --netns-type: ${netnsType}`);
  if (netnsType === 'pid' && !/^\d+$/.test(target)) throw new CliError(`invalid PID: ${target}`);
  const v4 = cidrPlan(o.cidr ?? '10.0.2.0/24');
  const pasta: string[] = [
    '-f', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '-I', tap, '-m', o.mtu ?? '1500',
    '-a', v4.guest, '-n', String(v4.prefix), '-g', v4.gateway,
  ];
  if (o.configure) pasta.push('--config-net');
  if (o.disableHostLoopback) pasta.push('--no-map-gw');
  if (!o.disableDns) pasta.push('--dns-forward', v4.dns);
  if (o.enableIpv6) {
    pasta.push('-a', 'fd00::100', '-g', 'fd00::2');
    if (!o.disableDns) pasta.push('--dns-forward', 'fd00::3');
  } else {
    pasta.push('-4');
  }
  if (o.outboundAddr) pasta.push('-o', o.outboundAddr);
  if (o.outboundAddr6) pasta.push('-o', o.outboundAddr6);
  if (o.macaddress) pasta.push('--ns-mac-addr', o.macaddress);
  if (o.usernsPath) pasta.push('--userns', o.usernsPath);
  if (netnsType === 'path') pasta.push('--netns', target);
  else pasta.push(target);
  const r = parseCli(pasta, env, progName);
  if (r.kind !== 'run') return r;
  const config: Config = Object.freeze({
    ...r.config,
    // slirp4netns runs until its exit descriptor closes; the caller waits on the ready descriptor
    slirp: Object.freeze({ readyFd: fdNumber('--ready-fd', o.readyFd), exitFd: fdNumber('--exit-fd', o.exitFd), apiSocket: o.apiSocket }),
    // slirp4netns answers router solicitations for the fd00::/64 prefix
    ra: !!o.enableIpv6,
  });
  return { kind: 'run', config };
}
