/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox: what netlink.c (the family, its requests) and netlink_events.c
 * (its "events" group) share.
 */
#ifndef _CALLBOX_NETLINK_H
#define _CALLBOX_NETLINK_H

#include <net/genetlink.h>

/* Indexes in the family's multicast groups. */
enum {
	CALLBOX_NL_GRP_EVENTS,
};

extern struct genl_family callbox_nl_family;

void callbox_nl_events_flush(void);

#endif /* _CALLBOX_NETLINK_H */
