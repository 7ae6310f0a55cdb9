// Whole-command-line checks and derived fields, turning the draft into the
// frozen Config. Mirrors the checks pasta's conf() makes after getopt.

import type { Config, Forwards, LogLevel } from '../config.js';
import type { Draft } from './draft.js';
import { CliError } from './errors.js';
import { finishPortSpec, forwardsSomething } from './ports.js';
import { INT_MAX } from './values.js';

type Env = Readonly<Record<string, string | undefined>>;

interface Target {
  command: readonly string[];
  targetPid?: number;
}

export function finalize(d: Draft, operands: readonly string[], env: Env, progName: string): Config {
  const target = d.mode === 'pasta' ? pastaTarget(d, operands, env) : passtTarget(operands);
  checkConflicts(d);
  const { debug, trace, ipv4Only, ipv6Only, prefixFrom: _p, needsConfigNet: _n, ports: _ports, ...plain } = d;
  const spawning = target.command.length > 0;
  return deepFreeze<Config>({
    ...plain,
    progName,
    logLevel: logLevel(d),
    // pasta running a command stays in the foreground and, unless debugging,
    // skips its configuration summary (pasta_start_ns() sets c->quiet)
    quiet: d.quiet || (spawning && !debug && !trace),
    foreground: d.foreground || spawning,
    ...target,
    // joining a namespace by path or name without --userns joins no user namespace
    netnsOnly: d.netnsOnly || (d.netns !== undefined && d.userns === undefined),
    ipv4: !ipv6Only,
    ipv6: !ipv4Only,
    // with --config-net, pasta configures the namespace itself: no router advertisements
    ra: d.ra && !d.configNet,
    forwards: forwards(d),
  });
}

/** -q keeps warnings, as pasta's LOG_UPTO(LOG_WARNING) does. */
function logLevel(d: Draft): LogLevel {
  if (d.trace) return 'trace';
  if (d.debug) return 'debug';
  return d.quiet ? 'warn' : 'info';
}

/** pasta: a lone numeric operand is a PID to attach to, anything else a command (default: a shell). */
function pastaTarget(d: Draft, operands: readonly string[], env: Env): Target {
  if (d.netns !== undefined) {
    if (operands.length > 0) throw new CliError(`both --netns and PID or command given: ${operands.join(' ')}`);
    return { command: [] };
  }
  const [first] = operands;
  if (operands.length === 1 && first !== undefined && /^\d+$/.test(first)) {
    const pid = Number(first);
    if (pid < 1 || pid > INT_MAX) throw new CliError(`invalid PID: ${first}`);
    return { command: [], targetPid: pid };
  }
  return { command: operands.length > 0 ? [...operands] : [env.SHELL || '/bin/sh'] };
}

function passtTarget(operands: readonly string[]): Target {
  if (operands.length > 0) throw new CliError(`extra non-option argument: ${operands[0]}`);
  return { command: [] };
}

function checkConflicts(d: Draft): void {
  if (d.ipv4Only && d.ipv6Only) {
    throw new CliError('options -4/--ipv4-only and -6/--ipv6-only are mutually exclusive');
  }
  if (d.needsConfigNet && !d.configNet) throw new CliError(`${d.needsConfigNet} needs --config-net`);
  if (d.noTcp && (forwardsSomething(d.ports.t) || forwardsSomething(d.ports.T))) {
    throw new CliError('TCP port forwarding requested (-t/-T) but TCP is disabled (--no-tcp)');
  }
  if (d.noUdp && (forwardsSomething(d.ports.u) || forwardsSomething(d.ports.U))) {
    throw new CliError('UDP port forwarding requested (-u/-U) but UDP is disabled (--no-udp)');
  }
}

/** Unset specs default to 'auto' in pasta and 'none' in passt (and with the protocol disabled). */
function forwards(d: Draft): Forwards {
  const fallback = (disabled: boolean) => (d.mode === 'pasta' && !disabled ? 'auto' : 'none');
  return {
    tcpIn: finishPortSpec(d.ports.t, fallback(d.noTcp)),
    udpIn: finishPortSpec(d.ports.u, fallback(d.noUdp)),
    tcpOut: finishPortSpec(d.ports.T, fallback(d.noTcp)),
    udpOut: finishPortSpec(d.ports.U, fallback(d.noUdp)),
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
