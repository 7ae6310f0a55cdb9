/*
 * netconf: the namespace set-up of a plain `pasta --config-net` attach (and of
 * slirp4netns -c), in C.
 *
 * Podman waits for its helper's foreground process before it starts the
 * container, and Node alone takes 30 ms to start here, pasta-ts's whole
 * attach 60 to 100 ms against pasta's 15 to 25. So for the argv Podman and
 * Buildah pass without -p (front.c decides), the launcher makes the plan and
 * configures the namespace itself, says "ready", and only then becomes Node,
 * which finds the namespace configured and skips that step.
 *
 * slirp4netns's argv gives the plan in full (nc_plan_fixed: -a, -n, -g, -m
 * and -I as src/cli/slirp4netns.ts translates it); only configuring is done.
 *
 * What is done here must be what src/netplan.ts, src/ns/hostconf.ts and
 * src/ns/configure.ts do for those argvs; test/integration/quick.test.ts
 * compares the two on a host with several addresses and routes. Anything
 * this copy does not cover (a plan error, too many routes) returns -1, and
 * Node does all of it as before.
 */
#define _GNU_SOURCE
#include "netconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NC_BUF 65536
#define TX_QUEUE_LEN 10000 /* as configure.ts: bursts are queued, not dropped */
#define DEFAULT_MTU 65520

static unsigned int nc_seq = 1;

static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* One route of the host's main table, as hostconf.ts reads it. */
struct host_route {
	struct nc_route r;
	int oif;
	int proto;
};

struct host_routes {
	struct host_route r[NC_MAX_ROUTES * 4];
	int n;
	int overflow;
};

static void parse_attrs(struct rtattr **tb, int max, struct rtattr *rta, int len)
{
	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		int type = rta->rta_type & 0x3fff;
		if (type <= max)
			tb[type] = rta;
	}
}

typedef void (*dump_fn)(struct nlmsghdr *h, void *ctx);

/*
 * Sends msg and reads the replies to it until NLMSG_DONE (a dump's end) or
 * an NLMSG_ERROR (a request's acknowledgement, or an error); a dump's other
 * messages go to fn. 0 or -errno.
 */
static int transact(int nl, struct nlmsghdr *msg, dump_fn fn, void *ctx)
{
	static char buf[NC_BUF];
	int is_dump = (msg->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	unsigned int seq = nc_seq++;

	msg->nlmsg_seq = seq;
	if (send(nl, msg, msg->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), MSG_TRUNC);
		struct nlmsghdr *h;
		int len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > (ssize_t)sizeof(buf))
			return -EMSGSIZE;
		len = (int)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				if (e->error || !is_dump)
					return e->error;
			} else if (is_dump) {
				fn(h, ctx);
			}
		}
	}
}

/* A dump request with a zeroed fixed part of len bytes (family first); each reply goes to fn. */
static int dump(int nl, int type, int family, size_t fixed, dump_fn fn, void *ctx)
{
	struct {
		struct nlmsghdr h;
		unsigned char body[16];
	} req;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(fixed);
	req.h.nlmsg_type = (unsigned short)type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.body[0] = (unsigned char)family;
	return transact(nl, &req.h, fn, ctx);
}

static void on_route(struct nlmsghdr *h, void *ctx)
{
	struct host_routes *rs = ctx;
	struct rtmsg *rt = NLMSG_DATA(h);
	struct rtattr *tb[RTA_MAX + 1], *a;
	struct host_route *r;
	unsigned int table;
	size_t alen = rt->rtm_family == AF_INET ? 4 : 16;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return;
	parse_attrs(tb, RTA_MAX, RTM_RTA(rt), (int)RTM_PAYLOAD(h));
	a = tb[RTA_TABLE];
	table = a && RTA_PAYLOAD(a) >= 4 ? *(unsigned int *)RTA_DATA(a) : rt->rtm_table;
	if (table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST)
		return;
	if (rs->n >= (int)(sizeof(rs->r) / sizeof(rs->r[0]))) {
		rs->overflow = 1;
		return;
	}
	r = &rs->r[rs->n++];
	memset(r, 0, sizeof(*r));
	r->r.prefix = rt->rtm_dst_len;
	r->proto = rt->rtm_protocol;
	if ((a = tb[RTA_DST]) && RTA_PAYLOAD(a) >= alen)
		memcpy(r->r.dst, RTA_DATA(a), alen);
	if ((a = tb[RTA_GATEWAY]) && RTA_PAYLOAD(a) >= alen) {
		memcpy(r->r.gw, RTA_DATA(a), alen);
		r->r.has_gw = 1;
	}
	if ((a = tb[RTA_PRIORITY]) && RTA_PAYLOAD(a) >= 4) {
		r->r.metric = *(unsigned int *)RTA_DATA(a);
		r->r.has_metric = 1;
	}
	if ((a = tb[RTA_OIF]) && RTA_PAYLOAD(a) >= 4)
		r->oif = *(int *)RTA_DATA(a);
}

struct first_addr {
	int af;
	int ifindex;
	int found;
	unsigned char addr[16];
	int prefix;
};

static void on_addr(struct nlmsghdr *h, void *ctx)
{
	struct first_addr *fa = ctx;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *tb[IFA_MAX + 1], *a;

	if (fa->found || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return;
	if (ifa->ifa_family != fa->af || (int)ifa->ifa_index != fa->ifindex || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return;
	parse_attrs(tb, IFA_MAX, IFA_RTA(ifa), (int)IFA_PAYLOAD(h));
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || RTA_PAYLOAD(a) < (fa->af == AF_INET ? 4u : 16u))
		return;
	memcpy(fa->addr, RTA_DATA(a), fa->af == AF_INET ? 4 : 16);
	fa->prefix = ifa->ifa_prefixlen;
	fa->found = 1;
}

/*
 * hostconf.ts's family() and netplan.ts's plan4()/plan6(): the interface of
 * the default route with the lowest metric, its first global address, the
 * gateway of its first default route, and its routes but those the kernel
 * adds by itself. Sets *tmpl to the interface (named or not, the template of
 * the namespace's interface name) and f->af only if the family is usable.
 */
static int plan_family(int nl, int af, struct nc_family *f, int *tmpl, char *why, size_t whylen)
{
	static struct host_routes rs;
	struct first_addr fa = { .af = af };
	const struct host_route *def = NULL, *gw_route = NULL;
	char name[IF_NAMESIZE];
	size_t alen = af == AF_INET ? 4 : 16;
	int rc;

	memset(f, 0, sizeof(*f));
	*tmpl = 0;
	rs.n = 0;
	rs.overflow = 0;
	if ((rc = dump(nl, RTM_GETROUTE, af, sizeof(struct rtmsg), on_route, &rs)))
		return fail(why, whylen, "reading the host's routes: %s", strerror(-rc));
	if (rs.overflow)
		return fail(why, whylen, "more host routes than this copy takes");
	for (int i = 0; i < rs.n; i++) {
		const struct host_route *r = &rs.r[i];
		unsigned int m = r->r.has_metric ? r->r.metric : 0;
		if (r->r.prefix == 0 && r->oif > 0 && (!def || m < (def->r.has_metric ? def->r.metric : 0)))
			def = r;
	}
	if (!def || !if_indextoname((unsigned int)def->oif, name))
		return 0;
	*tmpl = def->oif;
	fa.ifindex = def->oif;
	if ((rc = dump(nl, RTM_GETADDR, af, sizeof(struct ifaddrmsg), on_addr, &fa)))
		return fail(why, whylen, "reading the host's addresses: %s", strerror(-rc));
	for (int i = 0; i < rs.n; i++) {
		const struct host_route *r = &rs.r[i];
		if (r->oif != def->oif)
			continue;
		if (!gw_route && r->r.prefix == 0)
			gw_route = r;
		if (r->proto == RTPROT_KERNEL || (af == AF_INET6 && r->r.dst[0] == 0xfe && r->r.dst[1] == 0x80))
			continue;
		if (f->nroutes >= NC_MAX_ROUTES)
			return fail(why, whylen, "more host routes than this copy takes");
		f->routes[f->nroutes++] = r->r;
	}
	if (!fa.found || !gw_route || !gw_route->r.has_gw)
		return 0; /* no address or no gateway: not this family */
	if (af == AF_INET && fa.prefix < 31) {
		unsigned int a = ntohl(*(unsigned int *)fa.addr);
		unsigned int hostmask = fa.prefix ? 0xffffffffu >> fa.prefix : 0xffffffffu;
		if ((a & hostmask) == 0 || (a & hostmask) == hostmask)
			return fail(why, whylen, "the host's address is a network or broadcast address");
	}
	f->af = af;
	memcpy(f->addr, fa.addr, alen);
	f->prefix = fa.prefix;
	memcpy(f->gw, gw_route->r.gw, alen);
	return 0;
}

int nc_plan_host(struct nc_plan *p, char *why, size_t whylen)
{
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int t4, t6, rc;

	if (nl < 0)
		return fail(why, whylen, "netlink socket: %s", strerror(errno));
	memset(p, 0, sizeof(*p));
	rc = plan_family(nl, AF_INET, &p->v4, &t4, why, whylen);
	if (!rc)
		rc = plan_family(nl, AF_INET6, &p->v6, &t6, why, whylen);
	close(nl);
	if (rc)
		return rc;
	if (!p->v4.af && !p->v6.af)
		return fail(why, whylen, "no usable default route");
	if (!if_indextoname((unsigned int)(t4 ? t4 : t6), p->ifname))
		return fail(why, whylen, "the host's interface went away");
	p->mtu = DEFAULT_MTU;
	return 0;
}

/* "A/LEN" into addr and *prefix; 0 on success */
static int addr_len(int af, const char *s, unsigned char *addr, int *prefix)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long n;

	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	n = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || n < 1 || n > (af == AF_INET ? 32 : 128))
		return -1;
	*prefix = (int)n;
	return inet_pton(af, buf, addr) == 1 ? 0 : -1;
}

int nc_plan_fixed(struct nc_plan *p, const char *addr4, const char *gw4, const char *addr6, const char *gw6,
		  const char *mtu, const char *ifname, char *why, size_t whylen)
{
	char *end;
	long m;

	memset(p, 0, sizeof(*p));
	if (addr_len(AF_INET, addr4, p->v4.addr, &p->v4.prefix) || !gw4 || inet_pton(AF_INET, gw4, p->v4.gw) != 1)
		return fail(why, whylen, "bad IPv4 plan");
	p->v4.af = AF_INET;
	if (addr6 || gw6) {
		if (addr_len(AF_INET6, addr6, p->v6.addr, &p->v6.prefix) || !gw6 || inet_pton(AF_INET6, gw6, p->v6.gw) != 1)
			return fail(why, whylen, "bad IPv6 plan");
		p->v6.af = AF_INET6;
	}
	m = mtu ? strtol(mtu, &end, 10) : 0;
	if (!mtu || *end || m < 68 || m > DEFAULT_MTU)
		return fail(why, whylen, "bad MTU");
	p->mtu = (unsigned int)m;
	if (!ifname || !*ifname || strlen(ifname) >= sizeof(p->ifname))
		return fail(why, whylen, "bad interface name");
	strcpy(p->ifname, ifname);
	return 0;
}

/* ---- requests --------------------------------------------------------------- */

struct req {
	struct nlmsghdr h;
	char buf[512];
};

static void req_init(struct req *r, int type, int flags, const void *fixed, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(len);
	r->h.nlmsg_type = (unsigned short)type;
	r->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
	memcpy(NLMSG_DATA(&r->h), fixed, len);
}

static void req_attr(struct req *r, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void req_u32(struct req *r, int type, unsigned int v)
{
	req_attr(r, type, &v, sizeof(v));
}

/* Sends the request and waits for its acknowledgement: 0 or -errno. */
static int request(int nl, struct req *r)
{
	return transact(nl, &r->h, NULL, NULL);
}

/* RTM_NEWLINK for ifindex, setting the flags given (IFF_UP) and no others */
static void link_req(struct req *r, int ifindex, unsigned int flags)
{
	struct ifinfomsg ifi = { .ifi_index = ifindex, .ifi_flags = flags, .ifi_change = flags };
	req_init(r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
}

/* configure.ts's addRoutes: direct routes first, then those through a gateway. */
static int add_routes(int nl, int ifindex, const struct nc_family *f, char *why, size_t whylen)
{
	struct nc_route def = { .prefix = 0, .has_gw = 1 };
	const struct nc_route *all[NC_MAX_ROUTES + 1];
	int n = 0, has_default = 0;
	size_t alen = f->af == AF_INET ? 4 : 16;

	memcpy(def.gw, f->gw, alen);
	for (int i = 0; i < f->nroutes; i++)
		has_default |= f->routes[i].prefix == 0;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < f->nroutes; i++)
			if (f->routes[i].has_gw == pass)
				all[n++] = &f->routes[i];
		if (pass == 1 && !has_default)
			all[n++] = &def;
	}
	for (int i = 0; i < n; i++) {
		const struct nc_route *r = all[i];
		struct rtmsg rt = {
			.rtm_family = (unsigned char)f->af, .rtm_dst_len = (unsigned char)r->prefix,
			.rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
			.rtm_scope = r->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK, .rtm_type = RTN_UNICAST,
		};
		struct req q;
		char dst[INET6_ADDRSTRLEN];
		int rc;

		req_init(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof(rt));
		req_u32(&q, RTA_OIF, (unsigned int)ifindex);
		if (r->prefix > 0)
			req_attr(&q, RTA_DST, r->dst, alen);
		if (r->has_gw)
			req_attr(&q, RTA_GATEWAY, r->gw, alen);
		if (r->has_metric)
			req_u32(&q, RTA_PRIORITY, r->metric);
		rc = request(nl, &q);
		if (rc && rc != -EEXIST)
			return fail(why, whylen, "adding route to %s/%d: %s",
				    inet_ntop(f->af, r->dst, dst, sizeof(dst)) ? dst : "?", r->prefix, strerror(-rc));
	}
	return 0;
}

int nc_configure(int nl, int ifindex, const struct nc_plan *p, char *why, size_t whylen)
{
	struct req q;
	int rc;

	/* configure.ts's configureNamespace, step by step */
	link_req(&q, 1, IFF_UP);
	if ((rc = request(nl, &q)))
		return fail(why, whylen, "bringing up interface: %s", strerror(-rc));
	link_req(&q, ifindex, 0);
	req_attr(&q, IFLA_IFNAME, p->ifname, strlen(p->ifname) + 1);
	if ((rc = request(nl, &q)))
		return fail(why, whylen, "naming the interface %s: %s", p->ifname, strerror(-rc));
	link_req(&q, ifindex, 0);
	req_u32(&q, IFLA_MTU, p->mtu);
	req_u32(&q, IFLA_TXQLEN, TX_QUEUE_LEN);
	if ((rc = request(nl, &q)))
		return fail(why, whylen, "setting MTU %u: %s", p->mtu, strerror(-rc));
	link_req(&q, ifindex, IFF_UP);
	if ((rc = request(nl, &q)))
		return fail(why, whylen, "bringing up interface: %s", strerror(-rc));
	if (p->v4.af) {
		struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)p->v4.prefix,
					 .ifa_index = (unsigned int)ifindex };
		char a[INET_ADDRSTRLEN];
		req_init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
		req_attr(&q, IFA_LOCAL, p->v4.addr, 4);
		req_attr(&q, IFA_ADDRESS, p->v4.addr, 4);
		if ((rc = request(nl, &q)))
			return fail(why, whylen, "adding address %s: %s", inet_ntop(AF_INET, p->v4.addr, a, sizeof(a)),
				    strerror(-rc));
		if (add_routes(nl, ifindex, &p->v4, why, whylen))
			return -1;
	}
	if (p->v6.af) {
		struct ifaddrmsg ifa = { .ifa_family = AF_INET6, .ifa_prefixlen = (unsigned char)p->v6.prefix,
					 .ifa_index = (unsigned int)ifindex };
		req_init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
		req_attr(&q, IFA_ADDRESS, p->v6.addr, 16);
		req_u32(&q, IFA_FLAGS, IFA_F_NODAD);
		if ((rc = request(nl, &q)))
			return fail(why, whylen, "adding IPv6 address: %s", strerror(-rc));
		if (add_routes(nl, ifindex, &p->v6, why, whylen))
			return -1;
	}
	return 0;
}
