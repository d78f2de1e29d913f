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

/*
 * Has anyone joined the events group? Inline: every call transition asks,
 * and nothing more is done while no one has.
 */
static inline bool callbox_nl_listening(void)
{
	return genl_has_listeners(&callbox_nl_family, &init_net,
				  CALLBOX_NL_GRP_EVENTS) > 0;
}

void callbox_nl_events_flush(void);

#endif /* _CALLBOX_NETLINK_H */
