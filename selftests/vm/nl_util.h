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
 *
 * This file has the sockets, the requests and the replies; the sandboxes
 * and calls of GET and dump are nl_sandbox_util.h's, the events group's
 * socket and events nl_events_util.h's.
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

/* ---- attributes ---- */

/* Bit @a of .present: attribute @a was there. */
#define CBNL_HAS(x, a)	(!!((x)->present & (1u << (a))))

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

#endif /* CALLBOX_NL_UTIL_H */
