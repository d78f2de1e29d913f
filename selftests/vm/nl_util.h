/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the suites of the "callbox" generic netlink family
 * (Documentation/netlink/specs/callbox.yaml), on the real libnl-3 and
 * libnl-genl-3: genl_connect(), genl_ctrl_resolve(), nl_send_auto() and
 * nl_recvmsgs() with callbacks.
 *
 * Every request goes out on a socket with NETLINK_EXT_ACK on, and what
 * came back is kept raw in a struct cbnl_reply: the kernel's errno (from an
 * NLMSG_ERROR, or from the NLMSG_DONE that ends a dump the module failed),
 * its extack message, bad-attribute offset and missing-attribute type,
 * whether any message had NLM_F_DUMP_INTR, and what libnl's nl_recvmsgs()
 * returned. The parsers are strict: an attribute of the wrong length, one
 * the spec does not have, or a single attribute given twice is recorded
 * as a parse error (cbnl_reply.bad), which the tests assert is empty.
 */
#ifndef CALLBOX_NL_UTIL_H
#define CALLBOX_NL_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/callbox_netlink.h>

#include <sys/syscall.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include "callbox_util.h"
#include "script_guest.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* ---- small things ---- */

static inline const char *cbnl_state_name(uint32_t state)
{
	static const char *const names[] = {
		[CALLBOX_STATE_QUEUED] = "QUEUED",
		[CALLBOX_STATE_ENTERED] = "ENTERED",
		[CALLBOX_STATE_EXITED] = "EXITED",
		[CALLBOX_STATE_ABORTED] = "ABORTED",
		[CALLBOX_STATE_HOSTCALL] = "HOSTCALL",
	};

	if (state < sizeof(names) / sizeof(names[0]) && names[state])
		return names[state];
	return "0";
}

/* The sandbox id of @fd, from its fdinfo ("sandbox_id:\t"); 0 if none. */
static inline uint64_t cbnl_sandbox_id(int fd)
{
	char path[64], line[256];
	uint64_t id = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "sandbox_id:\t", 12)) {
			id = strtoull(line + 12, NULL, 10);
			break;
		}
	}
	fclose(f);
	return id;
}

/* A file of one decimal number (sysfs): 0, or -errno / -EPROTO. */
static inline int cbnl_read_u64(const char *path, uint64_t *v)
{
	char buf[64], *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 2 || buf[n - 1] != '\n')
		return -EPROTO;
	buf[n - 1] = 0;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || *end ? -EPROTO : 0;
}

/*
 * CALL_SYNC on a thread of its own, which says its tid: the RUNNER_TID
 * to expect while it runs the guest.
 */
struct cbnl_runner {
	pthread_t thread;
	int fd;
	uint64_t deadline_ns;
	atomic_int tid;
	int ret;
	struct callbox_call_info c;
	bool started;
};

static inline void *cbnl_runner_fn(void *p)
{
	struct cbnl_runner *r = p;

	atomic_store(&r->tid, (int)syscall(SYS_gettid));
	r->ret = _call_sync(r->fd, r->deadline_ns, &r->c);
	return NULL;
}

#define cbnl_runner_start(r)						\
	({								\
		ASSERT_EQ(0, pthread_create(&(r)->thread, NULL,		\
					    cbnl_runner_fn, (r)));	\
		(r)->started = true;					\
		ASSERT_TRUE(WAIT_FOR(atomic_load(&(r)->tid) != 0));	\
	})

/* Join @r within @ms: true if it ended (or never started). */
static inline bool cbnl_runner_join(struct cbnl_runner *r, unsigned int ms)
{
	if (!r->started)
		return true;
	if (join_within(r->thread, ms))
		return false;
	r->started = false;
	return true;
}

/* Where the first attribute of a request is: nlmsghdr, genlmsghdr. */
#define CBNL_FIRST_ATTR_OFFS	(NLMSG_HDRLEN + GENL_HDRLEN)

/* ---- what came back ---- */

struct cbnl_reply {
	int nl_ret;		/* nl_recvmsgs(): 0 or -NLE_* */
	int error;		/* the kernel's: 0 or -errno */
	bool acked;		/* an NLMSG_ERROR with error 0 came */
	bool done;		/* an NLMSG_DONE came */
	bool dump_intr;		/* some message had NLM_F_DUMP_INTR */
	int nr_msgs;		/* family messages (not ERROR/DONE) */
	bool has_msg, has_offs, has_miss_type;
	char msg[256];		/* NLMSGERR_ATTR_MSG */
	uint32_t offs;		/* NLMSGERR_ATTR_OFFS */
	uint32_t miss_type;	/* NLMSGERR_ATTR_MISS_TYPE */
	char bad[256];		/* the first parse error, "" if none */
	uint32_t max_seen_len;	/* the largest datagram read */
};

static inline void cbnl_bad(struct cbnl_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void cbnl_bad(struct cbnl_reply *r, const char *fmt, ...)
{
	va_list ap;

	if (r->bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->bad, sizeof(r->bad), fmt, ap);
	va_end(ap);
}

/* The extack TLVs at @p, @len bytes: message, offset, missing type. */
static inline void cbnl_parse_ext_ack(struct cbnl_reply *r, void *p, int len)
{
	struct nlattr *a;
	int rem;

	nla_for_each_attr(a, (struct nlattr *)p, len, rem) {
		switch (nla_type(a)) {
		case NLMSGERR_ATTR_MSG: {
			int n = nla_len(a);

			if (n < 1 || ((char *)nla_data(a))[n - 1]) {
				cbnl_bad(r, "extack message not a string");
				break;
			}
			snprintf(r->msg, sizeof(r->msg), "%s",
				 (char *)nla_data(a));
			r->has_msg = true;
			break;
		}
		case NLMSGERR_ATTR_OFFS:
			if (nla_len(a) != 4) {
				cbnl_bad(r, "extack offset of %d bytes",
				       nla_len(a));
				break;
			}
			r->offs = nla_get_u32(a);
			r->has_offs = true;
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			if (nla_len(a) != 4) {
				cbnl_bad(r, "extack missing type of %d bytes",
				       nla_len(a));
				break;
			}
			r->miss_type = nla_get_u32(a);
			r->has_miss_type = true;
			break;
		default:
			break;
		}
	}
}

/*
 * NL_CB_MSG_IN: every message, before libnl handles it. Errors and the
 * DONE of a dump are read here, whole, with their extack TLVs.
 */
static inline int cbnl_msg_in_cb(struct nl_msg *msg, void *arg)
{
	struct cbnl_reply *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	char *data = nlmsg_data(h);
	int len = nlmsg_datalen(h);

	if (h->nlmsg_flags & NLM_F_DUMP_INTR)
		r->dump_intr = true;
	if (h->nlmsg_len > r->max_seen_len)
		r->max_seen_len = h->nlmsg_len;

	if (h->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = (struct nlmsgerr *)data;
		int off;

		if (len < (int)sizeof(*e)) {
			cbnl_bad(r, "truncated NLMSG_ERROR");
			return NL_OK;
		}
		if (e->error > 0) {
			cbnl_bad(r, "positive error %d", e->error);
			return NL_OK;
		}
		if (e->error)
			r->error = e->error;
		else
			r->acked = true;
		off = sizeof(*e);
		if (!(h->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		off = NLMSG_ALIGN(off);
		if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && off < len)
			cbnl_parse_ext_ack(r, data + off, len - off);
	} else if (h->nlmsg_type == NLMSG_DONE) {
		int err;

		r->done = true;
		if (len < (int)sizeof(int)) {
			cbnl_bad(r, "NLMSG_DONE without its error");
			return NL_OK;
		}
		memcpy(&err, data, sizeof(err));
		if (err > 0) {
			cbnl_bad(r, "NLMSG_DONE with error %d", err);
			return NL_OK;
		}
		r->error = err;
		if ((h->nlmsg_flags & NLM_F_ACK_TLVS) &&
		    NLMSG_ALIGN(sizeof(int)) < (size_t)len)
			cbnl_parse_ext_ack(r, data + NLMSG_ALIGN(sizeof(int)),
					 len - NLMSG_ALIGN(sizeof(int)));
	} else if (h->nlmsg_type >= NLMSG_MIN_TYPE) {
		r->nr_msgs++;
	}
	return NL_OK;
}

/* The kernel's error: stop, nl_recvmsgs() returns libnl's form of it. */
static inline int cbnl_err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e,
			    void *arg)
{
	(void)nla;
	(void)e;
	(void)arg;
	return NL_STOP;
}

/*
 * Datagrams read by the requests of this process (nl_recv() calls that
 * returned data): how many pieces a dump came in.
 */
static unsigned long cbnl_datagrams;

static inline int cbnl_counting_recv(struct nl_sock *sk,
				     struct sockaddr_nl *nla,
				     unsigned char **buf, struct ucred **creds)
{
	int n = nl_recv(sk, nla, buf, creds);

	if (n > 0)
		cbnl_datagrams++;
	return n;
}

/* ---- sockets ---- */

struct cbnl {
	struct nl_sock *sk;
	int family;
};

/* Turn NETLINK_EXT_ACK on: 0 or -errno. */
static inline int cbnl_ext_ack_on(struct nl_sock *sk)
{
	int one = 1;

	if (setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
		       &one, sizeof(one)))
		return -errno;
	return 0;
}

/*
 * A generic netlink socket with the family resolved and extended acks
 * on: 0, -ENOENT if the family is not there, another -errno, or -EPROTO
 * for another libnl failure.
 */
static inline int cbnl_open(struct cbnl *nl)
{
	int ret;

	nl->family = -1;
	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return -ENOMEM;
	/* Peek first: a GET's reply can be larger than a page. */
	nl_socket_enable_msg_peek(nl->sk);
	ret = genl_connect(nl->sk);
	if (ret < 0)
		goto fail;
	ret = cbnl_ext_ack_on(nl->sk);
	if (ret)
		goto fail_errno;
	nl->family = genl_ctrl_resolve(nl->sk, CALLBOX_NL_FAMILY_NAME);
	if (nl->family < 0) {
		ret = nl->family == -NLE_OBJ_NOTFOUND ? -ENOENT : -EPROTO;
		goto fail_errno;
	}
	return 0;
fail:
	ret = -EPROTO;
fail_errno:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return ret;
}

static inline void cbnl_close(struct cbnl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

#define cbnl_open_ok(nl)							\
	({								\
		int __r = cbnl_open(nl);					\
		ASSERT_EQ(0, __r) {					\
			TH_LOG("opening the callbox family: %s",	\
			       strerror(-__r));				\
		}							\
	})

/*
 * A SANDBOX_GET message, to fill with attributes: @dump adds NLM_F_DUMP.
 * NULL if memory ran out.
 */
static inline struct nl_msg *cbnl_get_msg(struct cbnl *nl, bool dump)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
			 dump ? NLM_F_DUMP : 0, CALLBOX_NL_CMD_SANDBOX_GET,
			 CALLBOX_NL_FAMILY_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * Read the answer to a request sent on @nl: @valid gets each family
 * message. The kernel's verdict is in @r; the return value is @r->error,
 * or -EPROTO if libnl failed some other way (r->nl_ret says how).
 */
static inline int cbnl_read_reply(struct cbnl *nl, nl_recvmsg_msg_cb_t valid,
				  void *valid_arg, struct cbnl_reply *r)
{
	struct nl_cb *cb;
	int ret;

	memset(r, 0, sizeof(*r));
	cb = nl_cb_clone(nl_socket_get_cb(nl->sk));
	if (!cb)
		return -ENOMEM;
	nl_cb_overwrite_recv(cb, cbnl_counting_recv);
	nl_cb_set(cb, NL_CB_MSG_IN, NL_CB_CUSTOM, cbnl_msg_in_cb, r);
	nl_cb_err(cb, NL_CB_CUSTOM, cbnl_err_cb, r);
	if (valid)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, valid_arg);
	/*
	 * A GET's reply and its ACK (nl_send_auto() asks for one) may come
	 * in two datagrams, and nl_recvmsgs() returns after each datagram
	 * that does not end in a multipart message: read on until the
	 * ACK, an error, or the DONE that ends a dump.
	 */
	while (!r->acked && !r->error && !r->done) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret == -NLE_DUMP_INTR) {
			r->nl_ret = ret;
			continue;
		}
		if (ret < 0) {
			if (!r->nl_ret)
				r->nl_ret = ret;
			break;
		}
	}
	nl_cb_put(cb);
	if (r->error)
		return r->error;
	if (r->nl_ret < 0 && r->nl_ret != -NLE_DUMP_INTR)
		return -EPROTO;
	return 0;
}

/* Send @msg (freed) and read the answer, as cbnl_read_reply() does. */
static inline int cbnl_transact(struct cbnl *nl, struct nl_msg *msg,
			      nl_recvmsg_msg_cb_t valid, void *valid_arg,
			      struct cbnl_reply *r)
{
	int ret = nl_send_auto(nl->sk, msg);

	nlmsg_free(msg);
	if (ret < 0) {
		memset(r, 0, sizeof(*r));
		r->nl_ret = ret;
		return -EPROTO;
	}
	return cbnl_read_reply(nl, valid, valid_arg, r);
}

/* ---- sandboxes and calls ---- */

struct cbnl_trans {
	uint32_t state;
	uint64_t time_ns;
};

/* Bit @a of .present: attribute @a was there. */
#define CBNL_HAS(x, a)	(!!((x)->present & (1u << (a))))

struct cbnl_call {
	uint32_t present;
	uint64_t id;
	uint32_t state, reason, flags;
	uint64_t age_ns;
	uint32_t runner_tid;
	uint64_t deadline_ns;
	uint32_t nr_trans;	/* TRANSITION nests, as many as came */
	struct cbnl_trans trans[CALLBOX_NL_MAX_TRANSITIONS];
	uint32_t transitions;	/* TRANSITIONS */
};

#define CBNL_MAX_LIVE	(2 * CALLBOX_MAX_CALLS)

struct cbnl_sandbox {
	uint32_t present;
	uint64_t id;
	uint32_t owner_pid, owner_uid, state;
	uint64_t age_ns, calls, exited, aborted, current_call;
	uint32_t nr_live, nr_recent;	/* the nests that came */
	struct cbnl_call live[CBNL_MAX_LIVE];
	struct cbnl_call recent[CALLBOX_NL_RECENT_CALLS];
};

/* Attribute @a of @len bytes, unless its length is wrong. */
static inline bool cbnl_len_ok(struct cbnl_reply *r, const char *where,
			     const struct nlattr *a, int len)
{
	if (nla_len(a) == len)
		return true;
	cbnl_bad(r, "%s attribute %d: %d bytes, not %d", where, nla_type(a),
	       nla_len(a), len);
	return false;
}

/* Note attribute @type in *@present; false if it came twice. */
static inline bool cbnl_once(struct cbnl_reply *r, const char *where,
			   uint32_t *present, int type)
{
	if (*present & (1u << type)) {
		cbnl_bad(r, "%s attribute %d twice", where, type);
		return false;
	}
	*present |= 1u << type;
	return true;
}

static inline void cbnl_parse_trans(struct cbnl_reply *r, struct nlattr *nest,
				  struct cbnl_call *c)
{
	struct cbnl_trans *t = NULL;
	uint32_t present = 0;
	struct nlattr *a;
	int rem;

	if (c->nr_trans >= CALLBOX_NL_MAX_TRANSITIONS) {
		cbnl_bad(r, "call %llu: more than %d TRANSITION nests",
		       (unsigned long long)c->id, CALLBOX_NL_MAX_TRANSITIONS);
		return;
	}
	t = &c->trans[c->nr_trans++];
	nla_for_each_nested(a, nest, rem) {
		int type = nla_type(a);

		switch (type) {
		case CALLBOX_NL_A_TRANSITION_STATE:
			if (cbnl_once(r, "transition", &present, type) &&
			    cbnl_len_ok(r, "transition", a, 4))
				t->state = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_TRANSITION_TIME_NS:
			if (cbnl_once(r, "transition", &present, type) &&
			    cbnl_len_ok(r, "transition", a, 8))
				t->time_ns = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_TRANSITION_PAD:
			break;
		default:
			cbnl_bad(r, "transition: unknown attribute %d", type);
		}
	}
	if (present != ((1u << CALLBOX_NL_A_TRANSITION_STATE) |
			(1u << CALLBOX_NL_A_TRANSITION_TIME_NS)))
		cbnl_bad(r, "transition without STATE or TIME_NS (0x%x)",
		       present);
}

static inline void cbnl_parse_call(struct cbnl_reply *r, struct nlattr *nest,
				 struct cbnl_call *c)
{
	struct nlattr *a;
	int rem;

	memset(c, 0, sizeof(*c));
	nla_for_each_nested(a, nest, rem) {
		int type = nla_type(a);

		if (type == CALLBOX_NL_A_CALL_PAD)
			continue;
		if (type == CALLBOX_NL_A_CALL_TRANSITION) {
			c->present |= 1u << type;
			cbnl_parse_trans(r, a, c);
			continue;
		}
		if (type < 1 || type > CALLBOX_NL_A_CALL_MAX) {
			cbnl_bad(r, "call: unknown attribute %d", type);
			continue;
		}
		if (!cbnl_once(r, "call", &c->present, type))
			continue;
		switch (type) {
		case CALLBOX_NL_A_CALL_ID:
			if (cbnl_len_ok(r, "call", a, 8))
				c->id = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_CALL_STATE:
			if (cbnl_len_ok(r, "call", a, 4))
				c->state = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_CALL_REASON:
			if (cbnl_len_ok(r, "call", a, 4))
				c->reason = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_CALL_FLAGS:
			if (cbnl_len_ok(r, "call", a, 4))
				c->flags = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_CALL_AGE_NS:
			if (cbnl_len_ok(r, "call", a, 8))
				c->age_ns = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_CALL_RUNNER_TID:
			if (cbnl_len_ok(r, "call", a, 4))
				c->runner_tid = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_CALL_DEADLINE_NS:
			if (cbnl_len_ok(r, "call", a, 8))
				c->deadline_ns = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_CALL_TRANSITIONS:
			if (cbnl_len_ok(r, "call", a, 4))
				c->transitions = nla_get_u32(a);
			break;
		}
	}
}

/*
 * Parse one SANDBOX_GET message into @sb. Dumps carry no call nests: with
 * @dump, one is a parse error.
 */
static inline void cbnl_parse_sandbox(struct cbnl_reply *r, struct nl_msg *msg,
				    struct cbnl_sandbox *sb, bool dump)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct genlmsghdr *g = nlmsg_data(h);
	struct nlattr *a;
	int rem;

	memset(sb, 0, sizeof(*sb));
	if (!genlmsg_valid_hdr(h, 0)) {
		cbnl_bad(r, "no genetlink header");
		return;
	}
	if (g->cmd != CALLBOX_NL_CMD_SANDBOX_GET)
		cbnl_bad(r, "reply of command %u", g->cmd);
	if (g->version != CALLBOX_NL_FAMILY_VERSION)
		cbnl_bad(r, "reply of version %u", g->version);
	nla_for_each_attr(a, genlmsg_attrdata(g, 0), genlmsg_attrlen(g, 0),
			  rem) {
		int type = nla_type(a);

		if (type == CALLBOX_NL_A_SANDBOX_PAD)
			continue;
		if (type == CALLBOX_NL_A_SANDBOX_LIVE_CALL ||
		    type == CALLBOX_NL_A_SANDBOX_RECENT_CALL) {
			bool live = type == CALLBOX_NL_A_SANDBOX_LIVE_CALL;
			uint32_t *n = live ? &sb->nr_live : &sb->nr_recent;
			uint32_t max = live ? CBNL_MAX_LIVE :
					      CALLBOX_NL_RECENT_CALLS;

			sb->present |= 1u << type;
			if (dump)
				cbnl_bad(r, "a dump with a call nest (%d)", type);
			if (*n >= max) {
				cbnl_bad(r, "more than %u %s calls", max,
				       live ? "live" : "recent");
				continue;
			}
			cbnl_parse_call(r, a, live ? &sb->live[*n] :
						   &sb->recent[*n]);
			(*n)++;
			continue;
		}
		if (type < 1 || type > CALLBOX_NL_A_SANDBOX_MAX) {
			cbnl_bad(r, "sandbox: unknown attribute %d", type);
			continue;
		}
		if (!cbnl_once(r, "sandbox", &sb->present, type))
			continue;
		switch (type) {
		case CALLBOX_NL_A_SANDBOX_ID:
			if (cbnl_len_ok(r, "sandbox", a, 8))
				sb->id = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_SANDBOX_OWNER_PID:
			if (cbnl_len_ok(r, "sandbox", a, 4))
				sb->owner_pid = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_SANDBOX_OWNER_UID:
			if (cbnl_len_ok(r, "sandbox", a, 4))
				sb->owner_uid = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_SANDBOX_STATE:
			if (cbnl_len_ok(r, "sandbox", a, 4))
				sb->state = nla_get_u32(a);
			break;
		case CALLBOX_NL_A_SANDBOX_AGE_NS:
			if (cbnl_len_ok(r, "sandbox", a, 8))
				sb->age_ns = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_SANDBOX_CALLS:
			if (cbnl_len_ok(r, "sandbox", a, 8))
				sb->calls = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_SANDBOX_EXITED:
			if (cbnl_len_ok(r, "sandbox", a, 8))
				sb->exited = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_SANDBOX_ABORTED:
			if (cbnl_len_ok(r, "sandbox", a, 8))
				sb->aborted = nla_get_u64(a);
			break;
		case CALLBOX_NL_A_SANDBOX_CURRENT_CALL:
			if (cbnl_len_ok(r, "sandbox", a, 8))
				sb->current_call = nla_get_u64(a);
			break;
		}
	}
}

/* The attributes every sandbox message has (spec: SANDBOX_GET reply). */
#define CBNL_SANDBOX_ALWAYS						\
	((1u << CALLBOX_NL_A_SANDBOX_ID) |				\
	 (1u << CALLBOX_NL_A_SANDBOX_OWNER_PID) |			\
	 (1u << CALLBOX_NL_A_SANDBOX_OWNER_UID) |			\
	 (1u << CALLBOX_NL_A_SANDBOX_STATE) |				\
	 (1u << CALLBOX_NL_A_SANDBOX_AGE_NS) |				\
	 (1u << CALLBOX_NL_A_SANDBOX_CALLS) |				\
	 (1u << CALLBOX_NL_A_SANDBOX_EXITED) |				\
	 (1u << CALLBOX_NL_A_SANDBOX_ABORTED))

/* And every call nest. */
#define CBNL_CALL_ALWAYS							\
	((1u << CALLBOX_NL_A_CALL_ID) |					\
	 (1u << CALLBOX_NL_A_CALL_STATE) |				\
	 (1u << CALLBOX_NL_A_CALL_REASON) |				\
	 (1u << CALLBOX_NL_A_CALL_FLAGS) |				\
	 (1u << CALLBOX_NL_A_CALL_AGE_NS) |				\
	 (1u << CALLBOX_NL_A_CALL_TRANSITIONS))

/* ---- GET ---- */

struct cbnl_get_ctx {
	struct cbnl_reply *r;
	struct cbnl_sandbox *sb;
	int n;
};

static inline int cbnl_get_valid_cb(struct nl_msg *msg, void *arg)
{
	struct cbnl_get_ctx *ctx = arg;

	if (ctx->n++) {
		cbnl_bad(ctx->r, "a GET answered with %d messages", ctx->n);
		return NL_OK;
	}
	cbnl_parse_sandbox(ctx->r, msg, ctx->sb, false);
	return NL_OK;
}

/*
 * SANDBOX_GET of sandbox @id: 0 with the sandbox in @sb, or the kernel's
 * -errno, with everything else in @r.
 */
static inline int cbnl_get(struct cbnl *nl, uint64_t id, struct cbnl_sandbox *sb,
			 struct cbnl_reply *r)
{
	struct cbnl_get_ctx ctx = { .r = r, .sb = sb };
	struct nl_msg *msg = cbnl_get_msg(nl, false);
	int ret;

	memset(sb, 0, sizeof(*sb));
	if (!msg || nla_put_u64(msg, CALLBOX_NL_A_SANDBOX_ID, id)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = cbnl_transact(nl, msg, cbnl_get_valid_cb, &ctx, r);
	if (!ret && ctx.n != 1)
		cbnl_bad(r, "a GET answered with %d messages", ctx.n);
	if (!ret && !r->acked)
		cbnl_bad(r, "a GET not acked");
	return ret;
}

/* GET into a new allocation (struct cbnl_sandbox is large): free() it. */
#define cbnl_get_ok(nl, id)						\
	({								\
		struct cbnl_sandbox *__sb = calloc(1, sizeof(*__sb));	\
		struct cbnl_reply __r;					\
		int __ret;						\
									\
		ASSERT_NE(NULL, __sb);					\
		__ret = cbnl_get(nl, id, __sb, &__r);			\
		ASSERT_EQ(0, __ret) {					\
			TH_LOG("GET of sandbox %llu: %s (%s)",		\
			       (unsigned long long)(id), strerror(-__ret), \
			       __r.msg);				\
		}							\
		ASSERT_STREQ("", __r.bad);				\
		__sb;							\
	})

/* ---- dump ---- */

struct cbnl_dump {
	struct cbnl_reply r;
	uint32_t nr, max;
	struct cbnl_sandbox_head {
		uint32_t present;
		uint64_t id;
		uint32_t owner_pid, owner_uid, state;
		uint64_t age_ns, calls, exited, aborted, current_call;
	} *sb;
	/* Called after each family message, e.g. to pause the reader. */
	void (*each)(struct cbnl_dump *d, void *arg);
	void *each_arg;
};

static inline int cbnl_dump_valid_cb(struct nl_msg *msg, void *arg)
{
	struct cbnl_dump *d = arg;
	struct cbnl_sandbox *sb = malloc(sizeof(*sb));
	struct cbnl_sandbox_head *h;

	if (!sb) {
		cbnl_bad(&d->r, "out of memory");
		return NL_STOP;
	}
	cbnl_parse_sandbox(&d->r, msg, sb, true);
	if (d->nr == d->max) {
		uint32_t max = d->max ? 2 * d->max : 64;
		void *p = realloc(d->sb, max * sizeof(*d->sb));

		if (!p) {
			free(sb);
			cbnl_bad(&d->r, "out of memory");
			return NL_STOP;
		}
		d->sb = p;
		d->max = max;
	}
	h = &d->sb[d->nr++];
	h->present = sb->present;
	h->id = sb->id;
	h->owner_pid = sb->owner_pid;
	h->owner_uid = sb->owner_uid;
	h->state = sb->state;
	h->age_ns = sb->age_ns;
	h->calls = sb->calls;
	h->exited = sb->exited;
	h->aborted = sb->aborted;
	h->current_call = sb->current_call;
	free(sb);
	if (d->each)
		d->each(d, d->each_arg);
	return NL_OK;
}

/*
 * Dump every sandbox this socket may see into @d (cbnl_dump_free() it):
 * 0, or the kernel's -errno. An interrupted dump is read to its end:
 * d->r.dump_intr says whether any message was flagged, d->r.nl_ret is
 * -NLE_DUMP_INTR then.
 */
static inline int cbnl_dump(struct cbnl *nl, struct cbnl_dump *d)
{
	struct nl_msg *msg = cbnl_get_msg(nl, true);
	int ret;

	d->nr = 0;
	if (!msg)
		return -ENOMEM;
	ret = cbnl_transact(nl, msg, cbnl_dump_valid_cb, d, &d->r);
	if (!ret && !d->r.done)
		cbnl_bad(&d->r, "a dump without NLMSG_DONE");
	return ret;
}

static inline void cbnl_dump_free(struct cbnl_dump *d)
{
	free(d->sb);
	d->sb = NULL;
	d->nr = d->max = 0;
}

/* The dump's entry for sandbox @id, NULL if none; *@count how many. */
static inline struct cbnl_sandbox_head *cbnl_dump_find(struct cbnl_dump *d,
						   uint64_t id, int *count)
{
	struct cbnl_sandbox_head *found = NULL;
	uint32_t i;

	*count = 0;
	for (i = 0; i < d->nr; i++) {
		if (d->sb[i].id == id) {
			found = &d->sb[i];
			(*count)++;
		}
	}
	return found;
}

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

#endif /* CALLBOX_NL_UTIL_H */
