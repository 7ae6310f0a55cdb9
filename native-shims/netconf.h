/*
 * netconf: the launcher's own copy of the namespace set-up that Podman's
 * helper call needs (see netconf.c). Same plan as src/netplan.ts for
 * --config-net with the host's addresses and routes and no -a/-g/-n/-i/-m.
 */
#ifndef PTS_NETCONF_H
#define PTS_NETCONF_H

/* no <net/if.h>: launch.c has <linux/if.h>, and the two clash */
#include <stddef.h>

#define NC_IFNAMSIZ 16

#define NC_MAX_ROUTES 64

struct nc_route {
	unsigned char dst[16];
	int prefix;
	int has_gw;
	unsigned char gw[16];
	int has_metric;
	unsigned int metric;
};

/* One family's plan: the namespace's address, its gateway and the host's routes. */
struct nc_family {
	int af; /* 0: this family is not configured */
	unsigned char addr[16];
	int prefix;
	unsigned char gw[16];
	struct nc_route routes[NC_MAX_ROUTES];
	int nroutes;
};

struct nc_plan {
	char ifname[NC_IFNAMSIZ];
	unsigned int mtu;
	struct nc_family v4, v6;
};

/*
 * Reads the host's configuration over rtnetlink (in the calling thread's
 * network namespace) and makes the plan. Returns 0, or -1 with a reason in
 * why when the plan cannot be made here (Node then makes it, or says why not).
 */
int nc_plan_host(struct nc_plan *p, char *why, size_t whylen);

/*
 * A plan given in full (slirp4netns's): "A/LEN" and gateway for IPv4, the
 * same for IPv6 or NULL, MTU and interface name. -1 with why if a value
 * is not one.
 */
int nc_plan_fixed(struct nc_plan *p, const char *addr4, const char *gw4, const char *addr6, const char *gw6,
		  const char *mtu, const char *ifname, char *why, size_t whylen);

/*
 * Configures the namespace over nl, a NETLINK_ROUTE socket in it: loopback
 * up; the tap (ifindex) named, MTU and transmit queue set, up, the plan's
 * addresses and routes. Returns 0, or -1 with the failed step in why.
 */
int nc_configure(int nl, int ifindex, const struct nc_plan *p, char *why, size_t whylen);

#endif
