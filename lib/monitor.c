// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the kernel's callbox events as they happen: a libnl socket
 * that has joined the "events" multicast group of the "callbox" generic
 * netlink family (CALLBOX_NL_CMD_EVENT_NTF), read without blocking.
 *
 * One read from the socket may bring several events; they wait in the
 * monitor's queue until callbox_monitor_read() hands them out. Only
 * messages from the kernel itself (port 0) count: any process may send
 * to a netlink socket's port.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>

#include "inspect.h"

/* What the socket's receive buffer asks for (the kernel may cap it). */
#define MONITOR_RCVBUF	(1 << 20)
/* The most reads that empty the socket after an overflow (an event each). */
#define MONITOR_DRAIN_MAX	4096

/**
 * struct callbox_monitor - a socket in the events group, and its queue
 * @sk: the socket, non-blocking
 * @cb: its callbacks, which parse events into @queue
 * @family: the family's id, which events carry as their type
 * @queue: events read from the socket and not handed out yet
 * @head: the next one to hand out
 * @len: the end of the queue
 * @size: how many @queue has room for
 * @error: a failure of our own while parsing (-ENOMEM)
 */
struct callbox_monitor {
	struct nl_sock *sk;
	struct nl_cb *cb;
	int family;
	struct callbox_event *queue;
	size_t head;
	size_t len;
	size_t size;
	int error;
};

static const struct nla_policy event_policy[CALLBOX_NL_A_EVENT_MAX + 1] = {
	[CALLBOX_NL_A_EVENT_TYPE] = { .type = NLA_U32 },
	[CALLBOX_NL_A_EVENT_SANDBOX_ID] = { .type = NLA_U64 },
	[CALLBOX_NL_A_EVENT_CALL_ID] = { .type = NLA_U64 },
	[CALLBOX_NL_A_EVENT_FROM] = { .type = NLA_U32 },
	[CALLBOX_NL_A_EVENT_TO] = { .type = NLA_U32 },
	[CALLBOX_NL_A_EVENT_REASON] = { .type = NLA_U32 },
	[CALLBOX_NL_A_EVENT_FLAGS] = { .type = NLA_U32 },
	[CALLBOX_NL_A_EVENT_TIME_NS] = { .type = NLA_U64 },
	[CALLBOX_NL_A_EVENT_OWNER_UID] = { .type = NLA_U32 },
	[CALLBOX_NL_A_EVENT_LOST] = { .type = NLA_U64 },
};

/* A place at the end of the queue, zeroed; NULL if out of memory. */
static struct callbox_event *monitor_push(struct callbox_monitor *m)
{
	struct callbox_event *grown;
	size_t size;

	if (m->len == m->size) {
		size = m->size ? 2 * m->size : 16;
		grown = realloc(m->queue, size * sizeof(*grown));
		if (!grown)
			return NULL;
		m->queue = grown;
		m->size = size;
	}
	memset(&m->queue[m->len], 0, sizeof(m->queue[0]));
	return &m->queue[m->len++];
}

static uint64_t get_u64(struct nlattr *attr)
{
	return attr ? nla_get_u64(attr) : 0;
}

static uint32_t get_u32(struct nlattr *attr, uint32_t none)
{
	return attr ? nla_get_u32(attr) : none;
}

/* Each event the socket brings, queued; anything else is ignored. */
static int event_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[CALLBOX_NL_A_EVENT_MAX + 1];
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct callbox_monitor *m = arg;
	struct callbox_event *ev;

	if (nlmsg_get_src(msg)->nl_pid || nlh->nlmsg_type != m->family ||
	    !genlmsg_valid_hdr(nlh, 0) ||
	    ((struct genlmsghdr *)nlmsg_data(nlh))->cmd !=
	    CALLBOX_NL_CMD_EVENT_NTF ||
	    genlmsg_parse(nlh, 0, tb, CALLBOX_NL_A_EVENT_MAX,
			  event_policy) < 0 ||
	    !tb[CALLBOX_NL_A_EVENT_TYPE])
		return NL_SKIP;
	ev = monitor_push(m);
	if (!ev) {
		m->error = -ENOMEM;
		return NL_STOP;
	}
	ev->type = nla_get_u32(tb[CALLBOX_NL_A_EVENT_TYPE]);
	ev->owner_uid = get_u32(tb[CALLBOX_NL_A_EVENT_OWNER_UID], -1);
	ev->sandbox_id = get_u64(tb[CALLBOX_NL_A_EVENT_SANDBOX_ID]);
	ev->call_id = get_u64(tb[CALLBOX_NL_A_EVENT_CALL_ID]);
	ev->from = get_u32(tb[CALLBOX_NL_A_EVENT_FROM], 0);
	ev->to = get_u32(tb[CALLBOX_NL_A_EVENT_TO], 0);
	ev->reason = get_u32(tb[CALLBOX_NL_A_EVENT_REASON], 0);
	ev->flags = get_u32(tb[CALLBOX_NL_A_EVENT_FLAGS], 0);
	ev->time_ns = get_u64(tb[CALLBOX_NL_A_EVENT_TIME_NS]);
	ev->lost = get_u64(tb[CALLBOX_NL_A_EVENT_LOST]);
	return NL_OK;
}

/* Events carry no sequence number of ours. */
static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

int callbox_monitor_open(struct callbox_monitor **mp)
{
	static const char what[] = "monitoring events";
	struct callbox_monitor *m;
	int group, ret;

	inspect_begin();
	*mp = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return inspect_fail(-ENOMEM, "%s: out of memory", what);
	ret = inspect_connect(what, &m->sk, &m->family);
	if (ret)
		goto out_free;

	group = genl_ctrl_resolve_grp(m->sk, CALLBOX_NL_FAMILY_NAME,
				      CALLBOX_NL_MCGRP_EVENTS);
	if (group < 0) {
		ret = group == -NLE_OBJ_NOTFOUND ? -EPROTONOSUPPORT :
		      inspect_errno(group);
		inspect_fail(ret, "%s: the callbox netlink family has no \"%s\" group: %s",
			     what, CALLBOX_NL_MCGRP_EVENTS, strerror(-ret));
		goto out_free;
	}
	ret = nl_socket_add_membership(m->sk, group);
	if (ret < 0) {
		ret = inspect_errno(ret);
		if (ret == -EPERM || ret == -EACCES)
			inspect_fail(ret, "permission denied: joining the events group needs CAP_SYS_ADMIN");
		else
			inspect_fail(ret, "%s: joining the events group: %s",
				     what, strerror(-ret));
		goto out_free;
	}
	/* Failing these only makes a LOST event likelier, or reads block. */
	nl_socket_set_buffer_size(m->sk, MONITOR_RCVBUF, 0);
	ret = nl_socket_set_nonblocking(m->sk);
	if (ret < 0) {
		ret = inspect_errno(ret);
		inspect_fail(ret, "%s: %s", what, strerror(-ret));
		goto out_free;
	}

	m->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!m->cb) {
		ret = inspect_fail(-ENOMEM, "%s: out of memory", what);
		goto out_free;
	}
	nl_cb_set(m->cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	nl_cb_set(m->cb, NL_CB_VALID, NL_CB_CUSTOM, event_cb, m);
	*mp = m;
	return 0;

out_free:
	callbox_monitor_close(m);
	return ret;
}

int callbox_monitor_fd(const struct callbox_monitor *m)
{
	return nl_socket_get_fd(m->sk);
}

/*
 * One read from the socket, its events appended to the queue. Returns 1
 * if it read something, 0 if nothing was waiting, -ENOBUFS if the socket
 * had overflowed, or another -errno.
 */
static int monitor_receive(struct callbox_monitor *m)
{
	int ret;

	m->error = 0;
	ret = nl_recvmsgs_report(m->sk, m->cb);
	if (m->error)
		return m->error;
	if (!ret || ret == -NLE_AGAIN)
		return 0;
	/*
	 * libnl reports the socket's ENOBUFS (events dropped because its
	 * buffer was full) as -NLE_NOMEM; errno still says which.
	 */
	if (ret == -NLE_NOMEM && errno == ENOBUFS)
		return -ENOBUFS;
	return ret < 0 ? inspect_errno(ret) : 1;
}

int callbox_monitor_read(struct callbox_monitor *m, struct callbox_event *ev)
{
	struct callbox_event *lost;
	unsigned int n;
	int ret;

	inspect_begin();
	memset(ev, 0, sizeof(*ev));
	while (m->head == m->len) {
		m->head = m->len = 0;
		ret = monitor_receive(m);
		if (!ret)
			return -EAGAIN;
		if (ret == -ENOBUFS) {
			/*
			 * The socket reports its overflow before the events
			 * it still holds, which came before the loss: they
			 * go first, then the LOST event.
			 */
			for (n = 0; n < MONITOR_DRAIN_MAX; n++) {
				if (monitor_receive(m) <= 0)
					break;
			}
			lost = monitor_push(m);
			if (!lost)
				return inspect_fail(-ENOMEM,
						    "reading events: out of memory");
			lost->type = CALLBOX_NL_EVENT_LOST;
			lost->owner_uid = -1;
		} else if (ret < 0) {
			return inspect_fail(ret, "reading events: %s",
					    strerror(-ret));
		}
	}
	*ev = m->queue[m->head++];
	return 0;
}

void callbox_monitor_close(struct callbox_monitor *m)
{
	if (!m)
		return;
	nl_cb_put(m->cb);
	nl_socket_free(m->sk);
	free(m->queue);
	free(m);
}
