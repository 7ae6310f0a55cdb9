// The benchmark's metrics: one function each, run by agent.mjs inside a fresh
// fake host with a context (see Context in agent.mjs) that starts servers,
// the helper, and commands in the guest.
//
// Addresses (test/fixtures/topo.sh): "internet" servers 203.0.113.5 and
// 2001:db8::5 in netns "up"; the fake host's loopback is reached from the
// guest through the helper's gateway address (ctx.helper.gateway).
import { AS_USER } from './helpers.mjs';
import { median } from './lib.mjs';

const INET4 = '203.0.113.5';
const INET6 = '2001:db8::5';
const CONNS = 200;
const STARTS = 10;

// ---- tools ------------------------------------------------------------------

/** One iperf3 TCP test from the guest: rate, bytes, and sample() read just before and after. */
async function iperf(ctx, { to = 'inet', reverse = false, ipv6 = false, sample } = {}) {
  const port = 5201;
  const server = to === 'inet' ? ['iperf3', '-s', '-1', '-p', `${port}`] : ['iperf3', '-s', '-1', '-B', '127.0.0.1', '-p', `${port}`];
  await ctx.serve(server, { netns: to === 'inet' ? 'up' : 'host', port });
  await ctx.startHelper({ ipv6 });
  const dst = to === 'inet' ? (ipv6 ? INET6 : INET4) : ctx.helper.gateway;
  const argv = ['iperf3', '-J', '-c', dst, '-p', `${port}`, '-t', `${ctx.time}`, ...(reverse ? ['-R'] : [])];
  const before = sample?.();
  const r = await ctx.guestExec(argv).catch((e) => ({ error: e }));
  const after = sample?.();
  let j;
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw r.error ?? new Error(`iperf3 printed no JSON: ${r.stdout}`);
  }
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const { sum_sent: sent, sum_received: recv } = j.end;
  ctx.note(`bytes=${recv.bytes}`);
  if (sent.retransmits !== undefined) ctx.note(`retransmits=${sent.retransmits}`);
  return { bps: recv.bits_per_second, bytes: recv.bytes, before, after };
}

async function tcpGbps(ctx, opts) {
  return (await iperf(ctx, opts)).bps / 1e9;
}

/** Helper CPU seconds per GB (1e9 bytes) moved by one TCP transfer. */
async function cpuPerGB(ctx, reverse) {
  const r = await iperf(ctx, { reverse, sample: () => ctx.helperCpuSeconds() });
  const cpu = r.after - r.before;
  ctx.note(`cpu_s=${cpu.toFixed(2)}`);
  if (!r.bytes) throw new Error('no bytes moved');
  return cpu / (r.bytes / 1e9);
}

async function udpGbps(ctx) {
  await ctx.serve(['nuttcp', '-1', '--nofork', '-P', '5400', '-p', '5401'], { netns: 'up', port: 5400 });
  await ctx.startHelper();
  const argv = ['nuttcp', '-fparse', '-u', '-R', '20g', '-l', '1400', '-T', `${ctx.time}`, '-P', '5400', '-p', '5401', INET4];
  const { stdout } = await ctx.guestExec(argv);
  const kv = Object.fromEntries([...stdout.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  if (kv.rate_Mbps === undefined) throw new Error(`nuttcp: no rate in: ${stdout}`);
  ctx.note(`loss=${kv.data_loss ?? '?'}%`);
  return Number(kv.rate_Mbps) / 1000;
}

/** sockperf ping-pong average latency in µs (one-way, as sockperf reports it). */
async function rrMicros(ctx, tcp) {
  const port = tcp ? 11111 : 11112;
  const proto = tcp ? ['--tcp'] : [];
  await ctx.serve(['sockperf', 'server', ...proto, '-i', INET4, '-p', `${port}`], {
    netns: 'up',
    port,
    proto: tcp ? 't' : 'u',
  });
  await ctx.startHelper();
  const cpu0 = ctx.helperCpuTimes();
  const { stdout, stderr } = await ctx.guestExec(['sockperf', 'ping-pong', ...proto, '-i', INET4, '-p', `${port}`, '-t', `${ctx.time}`]);
  const cpu1 = ctx.helperCpuTimes();
  const out = stdout + stderr;
  // Helper CPU per round trip: what the helper itself costs, apart from wake-ups.
  const sent = /SentMessages=(\d+)/.exec(out);
  const perRt = (s) => ((s / Number(sent[1])) * 1e6).toFixed(1);
  if (sent && Number(sent[1]) > 0) ctx.note(`cpu_per_rt_user=${perRt(cpu1.user - cpu0.user)}us_sys=${perRt(cpu1.sys - cpu0.sys)}us`);
  const m = /avg-latency=([\d.]+)/.exec(out);
  if (!m) throw new Error(`sockperf: no avg-latency in: ${out.slice(-400)}`);
  const p50 = /percentile 50\.000 =\s*([\d.]+)/.exec(out);
  if (p50) ctx.note(`p50=${p50[1]}us`);
  return Number(m[1]);
}

/** Starts scripts/bench/upstream.mjs (HTTP 8080, idle 9000, busy 9001) in netns "up". */
async function upstream(ctx, port) {
  await ctx.serve([ctx.node, `${ctx.dir}/upstream.mjs`, INET4, `${ctx.time + 60}`], { netns: 'up', port });
}

async function connsPerSecond(ctx) {
  await upstream(ctx, 8080);
  await ctx.startHelper();
  const argv = ['wrk', '-t1', '-c1', `-d${ctx.time}s`, '-H', 'Connection: close', `http://${INET4}:8080/`];
  const { stdout } = await ctx.guestExec(argv);
  const m = /Requests\/sec:\s*([\d.]+)/.exec(stdout);
  if (!m) throw new Error(`wrk: no Requests/sec in: ${stdout}`);
  const errs = /Socket errors:.*|Non-2xx.*/.exec(stdout);
  if (errs) ctx.note(errs[0].replace(/\s+/g, '_'));
  return Number(m[1]);
}

/** Helper peak RSS in MiB with CONNS connections open (busy: all streaming both ways). */
async function peakRss(ctx, busy) {
  const port = busy ? 9001 : 9000;
  await upstream(ctx, port);
  await ctx.startHelper();
  const mode = busy ? 'busy' : 'idle';
  const client = ctx.guestSpawn([ctx.node, `${ctx.dir}/conns.mjs`, INET4, `${port}`, `${CONNS}`, mode, `${ctx.time}`], {
    stdin: 'pipe',
  });
  try {
    await ctx.waitForLine(client, /^connected (\d+)/, 20_000, 'conns.mjs');
    const done = await ctx.waitForLine(client, /^done (.*)/, ctx.time * 1000 + 20_000, 'conns.mjs');
    ctx.note(done[1].replace(/\s+/g, ','));
    return ctx.helperPeakRssKiB() / 1024;
  } catch (e) {
    throw new Error(`${e.message}: ${client.stderrText.trim().slice(-400)}`);
  } finally {
    // it resets its connections: give the resets time to reach the upstream
    // server through the helper before the fake host is torn down
    client.stdin.end();
    await Promise.race([new Promise((r) => client.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Median wall-clock ms of STARTS runs of `helper --config-net -- true`. */
async function startupMs(ctx) {
  const times = [];
  for (let i = 0; i < STARTS; i++) {
    const r = await ctx.exec([...AS_USER, ...ctx.helper.startup()], { timeoutMs: 10_000 });
    times.push(r.ms);
  }
  ctx.note(`min=${Math.min(...times).toFixed(0)}ms max=${Math.max(...times).toFixed(0)}ms`);
  return median(times);
}

// ---- the table -----------------------------------------------------------------

const GBPS = { unit: 'Gbit/s', lower: false, tools: ['iperf3'] };
/**
 * name (for --only), label, unit, lower (true: lower is better), tools it
 * needs, run(ctx) → number, timeout(seconds per measurement) → seconds.
 */
export const METRICS = [
  { name: 'tcp_out_inet', label: 'TCP namespace → internet', ...GBPS, run: (c) => tcpGbps(c, {}) },
  { name: 'tcp_in_inet', label: 'TCP internet → namespace', ...GBPS, run: (c) => tcpGbps(c, { reverse: true }) },
  { name: 'tcp_out_hostlo', label: 'TCP namespace → host loopback', ...GBPS, run: (c) => tcpGbps(c, { to: 'hostlo' }) },
  {
    name: 'tcp_in_hostlo',
    label: 'TCP host loopback → namespace',
    ...GBPS,
    run: (c) => tcpGbps(c, { to: 'hostlo', reverse: true }),
  },
  { name: 'tcp6_out_inet', label: 'TCP over IPv6 namespace → internet', ...GBPS, run: (c) => tcpGbps(c, { ipv6: true }) },
  { name: 'udp_out_inet', label: 'UDP namespace → internet', ...GBPS, tools: ['nuttcp'], run: udpGbps },
  { name: 'tcp_rr', label: 'TCP request/response latency', unit: 'µs', lower: true, tools: ['sockperf'], run: (c) => rrMicros(c, true) },
  { name: 'udp_rr', label: 'UDP request/response latency', unit: 'µs', lower: true, tools: ['sockperf'], run: (c) => rrMicros(c, false) },
  { name: 'tcp_crr', label: 'TCP connections per second', unit: '1/s', lower: false, tools: ['wrk'], run: connsPerSecond },
  { name: 'cpu_up', label: 'helper CPU per GB, TCP upload', unit: 's/GB', lower: true, tools: ['iperf3'], run: (c) => cpuPerGB(c, false) },
  { name: 'cpu_down', label: 'helper CPU per GB, TCP download', unit: 's/GB', lower: true, tools: ['iperf3'], run: (c) => cpuPerGB(c, true) },
  {
    name: 'rss_idle',
    label: `helper peak RSS, ${CONNS} idle TCP conns`,
    unit: 'MiB',
    lower: true,
    run: (c) => peakRss(c, false),
  },
  {
    name: 'rss_busy',
    label: `helper peak RSS, ${CONNS} busy TCP conns`,
    unit: 'MiB',
    lower: true,
    run: (c) => peakRss(c, true),
  },
  {
    name: 'startup',
    label: 'start-up, --config-net -- true',
    unit: 'ms',
    lower: true,
    run: startupMs,
    timeout: () => STARTS * 10 + 20,
  },
].map((m) => ({ timeout: (t) => t + 45, tools: [], ...m }));

export function metricByName(name) {
  return METRICS.find((m) => m.name === name);
}
