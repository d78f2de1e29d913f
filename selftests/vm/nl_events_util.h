/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "events" multicast group of the "callbox" netlink family: a
 * subscribed socket, and its events parsed strictly (see nl_util.h).
 */
#ifndef CALLBOX_NL_EVENTS_UTIL_H
#define CALLBOX_NL_EVENTS_UTIL_H

#include "nl_util.h"

/* ---- events ---- */

struct cbnl_event {
	uint32_t present;
	uint32_t type;
	uint64_t sandbox_id, call_id;
	uint32_t from, to, reason, flags, owner_uid;
	uint64_t time_ns, lost;
};

struct cbnl_events {
	struct nl_sock *sk;
	int grp;
	struct cbnl_reply r;	/* parse errors */
	uint32_t nr, max;
	struct cbnl_event *ev;
};

static inline int cbnl_events_valid_cb(struct nl_msg *msg, void *arg)
{
	struct cbnl_events *es = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct genlmsghdr *g = nlmsg_data(h);
	struct cbnl_event *e;
	struct nlattr *a;
	int rem;

	if (!genlmsg_valid_hdr(h, 0)) {
		cbnl_bad(&es->r, "event without a genetlink header");
		return NL_OK;
	}
	if (g->cmd != CALLBOX_NL_CMD_EVENT_NTF)
		cbnl_bad(&es->r, "event of command %u", g->cmd);
	if (es->nr == es->max) {
		uint32_t max = es->max ? 2 * es->max : 256;
		void *p = realloc(es->ev, max * sizeof(*es->ev));

		if (!p) {
			cbnl_bad(&es->r, "out of memory");
			return NL_STOP;
		}
		es->ev = p;
		es->max = max;
	}
	e = &es->ev[es->nr++];
	memset(e, 0, sizeof(*e));
	nla_for_each_attr(a, genlmsg_attrdata(g, 0), genlmsg_attrlen(g, 0),
			  rem) {
		int type = nla_type(a);
		int len = 4;

		if (type == CALLBOX_NL_A_EVENT_PAD)
			continue;
		if (type < 1 || type > CALLBOX_NL_A_EVENT_MAX) {
			cbnl_bad(&es->r, "event: unknown attribute %d", type);
			continue;
		}
		if (!cbnl_once(&es->r, "event", &e->present, type))
			continue;
		if (type == CALLBOX_NL_A_EVENT_SANDBOX_ID ||
		    type == CALLBOX_NL_A_EVENT_CALL_ID ||
		    type == CALLBOX_NL_A_EVENT_TIME_NS ||
		    type == CALLBOX_NL_A_EVENT_LOST)
			len = 8;
		if (!cbnl_len_ok(&es->r, "event", a, len))
			continue;
		switch (type) {
		case CALLBOX_NL_A_EVENT_TYPE:
			e->type = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_EVENT_SANDBOX_ID:
			e->sandbox_id = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_EVENT_CALL_ID:
			e->call_id = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_EVENT_FROM:
			e->from = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_EVENT_TO:
			e->to = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_EVENT_REASON:
			e->reason = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_EVENT_FLAGS:
			e->flags = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_EVENT_TIME_NS:
			e->time_ns = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_EVENT_OWNER_UID:
			e->owner_uid = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_EVENT_LOST:
			e->lost = nla_get_u64(a);
			break;
		}
	}
	return NL_OK;
}

/*
 * A socket in the "events" group: 0, or -errno (-EPERM if joining was
 * refused). @rcvbuf, if not 0, is forced as the socket's receive buffer
 * (root only), so that a burst of events is not dropped by the socket.
 */
static inline int cbnl_events_open(struct cbnl_events *es, int rcvbuf)
{
	int ret, fd;

	memset(es, 0, sizeof(*es));
	es->sk = nl_socket_alloc();
	if (!es->sk)
		return -ENOMEM;
	ret = genl_connect(es->sk);
	if (ret < 0) {
		ret = -EPROTO;
		goto fail;
	}
	fd = nl_socket_get_fd(es->sk);
	if (rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
				 sizeof(rcvbuf))) {
		ret = -errno;
		goto fail;
	}
	es->grp = genl_ctrl_resolve_grp(es->sk, CALLBOX_NL_FAMILY_NAME,
					CALLBOX_NL_MCGRP_EVENTS);
	if (es->grp < 0) {
		ret = -ENOENT;
		goto fail;
	}
	/* Notifications have sequence number 0. */
	nl_socket_disable_seq_check(es->sk);
	ret = nl_socket_add_membership(es->sk, es->grp);
	if (ret < 0) {
		ret = ret == -NLE_PERM ? -EPERM : -EPROTO;
		goto fail;
	}
	return 0;
fail:
	nl_socket_free(es->sk);
	es->sk = NULL;
	return ret;
}

static inline void cbnl_events_close(struct cbnl_events *es)
{
	if (es->sk)
		nl_socket_free(es->sk);
	es->sk = NULL;
	free(es->ev);
	es->ev = NULL;
	es->nr = es->max = 0;
}

/*
 * The setup of an events test: join the group on @es (as root; SKIPs
 * otherwise), then open @b, bound, on the script guest, so that its
 * creation is an event too, and its sandbox id into *@id. The caller
 * returns if the setup was skipped.
 */
static inline void cbnl_events_box_open(struct __test_metadata *_metadata,
					struct cbnl_events *es, struct box *b,
					uint64_t *id)
{
	int ret;

	es->sk = NULL;
	box_init(b);
	if (geteuid())
		SKIP(return, "needs root (CAP_SYS_ADMIN) to join the group");
	/* 16 MiB: a burst must not be dropped by our socket. */
	ret = cbnl_events_open(es, 16 << 20);
	ASSERT_EQ(0, ret) {
		TH_LOG("joining the events group: %s", strerror(-ret));
	}
	box_open(_metadata, b, guest_script, sizeof(guest_script), true);
	return_if_setup_skipped();
	*id = cbnl_sandbox_id(b->fd);
	ASSERT_NE(0, *id);
}

/*
 * Read what events are there within @ms (each one datagram): 0 if the
 * time ran out, 1 once @enough says so, or -errno / -EPROTO on failure.
 * @enough may be NULL: read for @ms.
 */
static inline int cbnl_events_read(struct cbnl_events *es, int ms,
				 bool (*enough)(struct cbnl_events *, void *),
				 void *arg)
{
	struct timespec ts;
	uint64_t until, now;
	struct nl_cb *cb;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
	until = now + ms;
	cb = nl_cb_clone(nl_socket_get_cb(es->sk));
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, cbnl_events_valid_cb, es);
	nl_cb_set(cb, NL_CB_MSG_IN, NL_CB_CUSTOM, cbnl_msg_in_cb, &es->r);
	for (;;) {
		struct pollfd p = { .fd = nl_socket_get_fd(es->sk),
				    .events = POLLIN };

		if (enough && enough(es, arg)) {
			ret = 1;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
		if (now >= until)
			break;
		ret = poll(&p, 1, (int)(until - now));
		if (ret < 0) {
			ret = -errno;
			break;
		}
		if (!ret)
			continue;
		ret = nl_recvmsgs(es->sk, cb);
		if (ret < 0) {
			es->r.nl_ret = ret;
			ret = -EPROTO;
			break;
		}
		ret = 0;
	}
	nl_cb_put(cb);
	return ret;
}


#endif /* CALLBOX_NL_EVENTS_UTIL_H */
