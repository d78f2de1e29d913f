// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: what every sandbox and call is doing, asked of the kernel's
 * "callbox" generic netlink family (uapi/linux/callbox_netlink.h) through
 * libnl: CALLBOX_NL_CMD_SANDBOX_GET as a dump (every sandbox, without its
 * calls) or a request for one sandbox (with its live and recent calls).
 * Also what monitor.c shares: the connected socket, libnl's errors as
 * errno values, the kernel's extended ack, and the calling thread's last
 * error.
 *
 * Everything the kernel sends is parsed against a policy, and only
 * messages from the kernel itself (port 0) are read: any process may send
 * to a netlink socket's port.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>

#include "inspect.h"

/*
 * How often a dump is taken, at most, when sandboxes came or went while
 * the kernel listed them. With a sandbox created and closed every 350 us
 * on the other CPU (inspect_leak_test, multi-threaded TCG), 5 tries all
 * failed about once in 2,500 listings of one or two sandboxes: each try
 * was interrupted about one time in five. Tries are cheap (one datagram
 * for a short list), so take many.
 */
#define DUMP_TRIES	25

/* The calling thread's last error, "" after a success. */
static __thread char thread_error[CALLBOX_OUTCOME_MESSAGE_MAX];

void inspect_begin(void)
{
	thread_error[0] = '\0';
}

/* Record failure @ret with a message; returns @ret. */
int inspect_fail(int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(thread_error, sizeof(thread_error), fmt, ap);
	va_end(ap);
	return ret;
}

const char *callbox_inspect_last_error(void)
{
	return thread_error;
}

/* A libnl error (-NLE_*) as a negative errno. */
int inspect_errno(int nlerr)
{
	static const int errnos[] = {
		[NLE_FAILURE] = EIO,
		[NLE_INTR] = EINTR,
		[NLE_BAD_SOCK] = EBADF,
		[NLE_AGAIN] = EAGAIN,
		[NLE_NOMEM] = ENOMEM,
		[NLE_EXIST] = EEXIST,
		[NLE_INVAL] = EINVAL,
		[NLE_RANGE] = ERANGE,
		[NLE_MSGSIZE] = EMSGSIZE,
		[NLE_OPNOTSUPP] = EOPNOTSUPP,
		[NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
		[NLE_OBJ_NOTFOUND] = ENOENT,
		[NLE_NOATTR] = EBADMSG,
		[NLE_MISSING_ATTR] = EBADMSG,
		[NLE_AF_MISMATCH] = EBADMSG,
		[NLE_SEQ_MISMATCH] = EBADMSG,
		[NLE_MSG_OVERFLOW] = ENOBUFS,
		[NLE_MSG_TRUNC] = EBADMSG,
		[NLE_NOADDR] = EADDRNOTAVAIL,
		[NLE_MSG_TOOSHORT] = EBADMSG,
		[NLE_MSGTYPE_NOSUPPORT] = EBADMSG,
		[NLE_OBJ_MISMATCH] = EBADMSG,
		[NLE_BUSY] = EBUSY,
		[NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
		[NLE_NOACCESS] = EACCES,
		[NLE_PERM] = EPERM,
		[NLE_PARSE_ERR] = EBADMSG,
		[NLE_NODEV] = ENODEV,
		[NLE_DUMP_INTR] = EAGAIN,
		[NLE_ATTRSIZE] = EBADMSG,
	};
	unsigned int i = nlerr < 0 ? -nlerr : nlerr;

	if (i < sizeof(errnos) / sizeof(errnos[0]) && errnos[i])
		return -errnos[i];
	return -EIO;
}

/**
 * inspect_connect() - a generic netlink socket, and the family's id
 * @what: what the caller is doing, for messages
 * @skp: the socket, blocking; NULL on failure
 * @family: the id of the "callbox" family
 *
 * Return: 0, or -errno with a message: -EPROTONOSUPPORT if the family is
 * not registered.
 */
int inspect_connect(const char *what, struct nl_sock **skp, int *family)
{
	struct nl_sock *sk;
	int one = 1, ret;

	*skp = NULL;
	sk = nl_socket_alloc();
	if (!sk)
		return inspect_fail(-ENOMEM, "%s: out of memory", what);
	ret = genl_connect(sk);
	if (ret < 0) {
		ret = inspect_errno(ret);
		inspect_fail(ret, "%s: a generic netlink socket: %s", what,
			     strerror(-ret));
		goto out_free;
	}
	/*
	 * libnl has no call for these: the kernel's words with its errors
	 * (a kernel without them just sends none), and no echo of the
	 * request in them.
	 */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one,
		   sizeof(one));

	ret = genl_ctrl_resolve(sk, CALLBOX_NL_FAMILY_NAME);
	if (ret == -NLE_OBJ_NOTFOUND) {
		ret = inspect_fail(-EPROTONOSUPPORT,
				   "the callbox netlink family is not available: is callbox.ko loaded?");
		goto out_free;
	}
	if (ret < 0) {
		ret = inspect_errno(ret);
		inspect_fail(ret, "%s: looking up the callbox netlink family: %s",
			     what, strerror(-ret));
		goto out_free;
	}
	*family = ret;
	*skp = sk;
	return 0;

out_free:
	nl_socket_free(sk);
	return ret;
}

/**
 * struct inspect_reply - what one exchange with the kernel ended with
 * @error: the kernel's negative errno, 0 if it sent none
 * @message: its extended ack message, "" if none
 */
struct inspect_reply {
	int error;
	char message[256];
};

/*
 * The error callback of every exchange: keep the kernel's errno and its
 * extended ack message (NLMSGERR_ATTR_MSG), which follow the nlmsgerr in
 * the message that holds it.
 */
static int inspect_error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e,
			    void *arg)
{
	const struct nlmsghdr *nlh = (const void *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct inspect_reply *reply = arg;
	size_t off = sizeof(*e);
	struct nlattr *msg;

	if (nla->nl_pid)
		return NL_SKIP;
	reply->error = e->error < 0 ? e->error : -EPROTO;
	reply->message[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		/* The request is echoed whole after the nlmsgerr. */
		if (e->msg.nlmsg_len < sizeof(e->msg) ||
		    e->msg.nlmsg_len > nlh->nlmsg_len)
			return NL_STOP;
		off += e->msg.nlmsg_len - sizeof(e->msg);
	}
	off = NLMSG_ALIGN(off);
	if (nlh->nlmsg_len <= NLMSG_HDRLEN + off ||
	    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + off),
		      nlh->nlmsg_len - NLMSG_HDRLEN - off, NULL) < 0)
		return NL_STOP;
	msg = tb[NLMSGERR_ATTR_MSG];
	if (msg)
		nla_strlcpy(reply->message, msg, sizeof(reply->message));
	return NL_STOP;
}

/**
 * struct exchange - one request and the replies to it
 * @reply: the kernel's error, if it sent one
 * @done: the ack of a request, or the end of a dump, came
 * @interrupted: the dump's sandboxes changed while it was taken
 * @error: a failure of our own while parsing (-ENOMEM, -EBADMSG)
 * @family: the family's id, which replies carry as their type
 * @status: the sandboxes parsed so far
 * @count: how many
 * @size: how many @status has room for
 */
struct exchange {
	struct inspect_reply reply;
	bool done;
	bool interrupted;
	int error;
	int family;
	struct callbox_sandbox_status *status;
	size_t count;
	size_t size;
};

static int from_kernel(struct nl_msg *msg)
{
	return !nlmsg_get_src(msg)->nl_pid;
}

/* The ack of a request, or the end of a dump, whose int is its error. */
static int done_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct exchange *ex = arg;
	int err;

	if (!from_kernel(msg))
		return NL_SKIP;
	ex->done = true;
	if (nlh->nlmsg_type == NLMSG_DONE &&
	    nlmsg_datalen(nlh) >= (int)sizeof(err)) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0)
			ex->reply.error = err;
	}
	return NL_STOP;
}

/* Also what libnl reports as -NLE_DUMP_INTR without this callback. */
static int dump_intr_cb(struct nl_msg *msg, void *arg)
{
	struct exchange *ex = arg;

	if (from_kernel(msg))
		ex->interrupted = true;
	return NL_OK;
}

static const struct nla_policy
transition_policy[CALLBOX_NL_A_TRANSITION_MAX + 1] = {
	[CALLBOX_NL_A_TRANSITION_STATE] = { .type = NLA_U32 },
	[CALLBOX_NL_A_TRANSITION_TIME_NS] = { .type = NLA_U64 },
};

static const struct nla_policy call_policy[CALLBOX_NL_A_CALL_MAX + 1] = {
	[CALLBOX_NL_A_CALL_ID] = { .type = NLA_U64 },
	[CALLBOX_NL_A_CALL_STATE] = { .type = NLA_U32 },
	[CALLBOX_NL_A_CALL_REASON] = { .type = NLA_U32 },
	[CALLBOX_NL_A_CALL_FLAGS] = { .type = NLA_U32 },
	[CALLBOX_NL_A_CALL_AGE_NS] = { .type = NLA_U64 },
	[CALLBOX_NL_A_CALL_RUNNER_TID] = { .type = NLA_U32 },
	[CALLBOX_NL_A_CALL_DEADLINE_NS] = { .type = NLA_U64 },
	[CALLBOX_NL_A_CALL_TRANSITION] = { .type = NLA_NESTED },
	[CALLBOX_NL_A_CALL_TRANSITIONS] = { .type = NLA_U32 },
};

static const struct nla_policy sandbox_policy[CALLBOX_NL_A_SANDBOX_MAX + 1] = {
	[CALLBOX_NL_A_SANDBOX_ID] = { .type = NLA_U64 },
	[CALLBOX_NL_A_SANDBOX_OWNER_PID] = { .type = NLA_U32 },
	[CALLBOX_NL_A_SANDBOX_OWNER_UID] = { .type = NLA_U32 },
	[CALLBOX_NL_A_SANDBOX_STATE] = { .type = NLA_U32 },
	[CALLBOX_NL_A_SANDBOX_AGE_NS] = { .type = NLA_U64 },
	[CALLBOX_NL_A_SANDBOX_CALLS] = { .type = NLA_U64 },
	[CALLBOX_NL_A_SANDBOX_EXITED] = { .type = NLA_U64 },
	[CALLBOX_NL_A_SANDBOX_ABORTED] = { .type = NLA_U64 },
	[CALLBOX_NL_A_SANDBOX_CURRENT_CALL] = { .type = NLA_U64 },
	[CALLBOX_NL_A_SANDBOX_LIVE_CALL] = { .type = NLA_NESTED },
	[CALLBOX_NL_A_SANDBOX_RECENT_CALL] = { .type = NLA_NESTED },
};

static uint64_t get_u64(struct nlattr *attr, uint64_t none)
{
	return attr ? nla_get_u64(attr) : none;
}

static uint32_t get_u32(struct nlattr *attr, uint32_t none)
{
	return attr ? nla_get_u32(attr) : none;
}

/*
 * One CALLBOX_NL_A_SANDBOX_LIVE_CALL or _RECENT_CALL nest. Beyond
 * CALLBOX_CALL_TRANSITIONS_MAX transitions, the last one kept is the
 * latest, as the kernel keeps them.
 */
static int parse_call(struct nlattr *nest, struct callbox_call_status *c)
{
	struct nlattr *tb[CALLBOX_NL_A_CALL_MAX + 1];
	struct nlattr *ttb[CALLBOX_NL_A_TRANSITION_MAX + 1];
	struct callbox_transition *t;
	struct nlattr *attr;
	uint64_t left;
	uint32_t n = 0;
	int rem;

	if (nla_parse_nested(tb, CALLBOX_NL_A_CALL_MAX, nest, call_policy) < 0 ||
	    !tb[CALLBOX_NL_A_CALL_ID])
		return -EBADMSG;
	c->id = nla_get_u64(tb[CALLBOX_NL_A_CALL_ID]);
	c->state = get_u32(tb[CALLBOX_NL_A_CALL_STATE], 0);
	c->reason = get_u32(tb[CALLBOX_NL_A_CALL_REASON], 0);
	c->flags = get_u32(tb[CALLBOX_NL_A_CALL_FLAGS], 0);
	c->runner_tid = (int32_t)get_u32(tb[CALLBOX_NL_A_CALL_RUNNER_TID], 0);
	c->age_ns = get_u64(tb[CALLBOX_NL_A_CALL_AGE_NS], 0);
	left = get_u64(tb[CALLBOX_NL_A_CALL_DEADLINE_NS], UINT64_MAX);
	c->deadline_left_ns = left > INT64_MAX ? -1 : (int64_t)left;

	nla_for_each_nested(attr, nest, rem) {
		if (nla_type(attr) != CALLBOX_NL_A_CALL_TRANSITION)
			continue;
		if (nla_parse_nested(ttb, CALLBOX_NL_A_TRANSITION_MAX, attr,
				     transition_policy) < 0)
			return -EBADMSG;
		t = &c->transitions[n < CALLBOX_CALL_TRANSITIONS_MAX ?
				    n : CALLBOX_CALL_TRANSITIONS_MAX - 1];
		t->state = get_u32(ttb[CALLBOX_NL_A_TRANSITION_STATE], 0);
		t->time_ns = get_u64(ttb[CALLBOX_NL_A_TRANSITION_TIME_NS], 0);
		n++;
	}
	c->nr_transitions = n < CALLBOX_CALL_TRANSITIONS_MAX ?
			    n : CALLBOX_CALL_TRANSITIONS_MAX;
	c->transitions_total = get_u32(tb[CALLBOX_NL_A_CALL_TRANSITIONS], n);
	if (c->transitions_total < n)
		c->transitions_total = n;
	return 0;
}

/* The calls of type @type (LIVE_CALL or RECENT_CALL) of a sandbox. */
static int parse_calls(struct nlattr *head, int len, int type,
		       struct callbox_call_status **calls, size_t *count)
{
	struct nlattr *attr;
	size_t n = 0;
	int rem, ret;

	nla_for_each_attr(attr, head, len, rem)
		n += nla_type(attr) == type;
	if (!n)
		return 0;
	*calls = calloc(n, sizeof(**calls));
	if (!*calls)
		return -ENOMEM;
	nla_for_each_attr(attr, head, len, rem) {
		if (nla_type(attr) != type)
			continue;
		ret = parse_call(attr, &(*calls)[*count]);
		if (ret)
			return ret;
		(*count)++;
	}
	return 0;
}

static int parse_sandbox(struct nlmsghdr *nlh,
			 struct callbox_sandbox_status *s)
{
	struct nlattr *tb[CALLBOX_NL_A_SANDBOX_MAX + 1];
	struct nlattr *head = genlmsg_attrdata(nlmsg_data(nlh), 0);
	int len = genlmsg_attrlen(nlmsg_data(nlh), 0);
	int ret;

	if (genlmsg_parse(nlh, 0, tb, CALLBOX_NL_A_SANDBOX_MAX,
			  sandbox_policy) < 0 || !tb[CALLBOX_NL_A_SANDBOX_ID])
		return -EBADMSG;
	s->id = nla_get_u64(tb[CALLBOX_NL_A_SANDBOX_ID]);
	s->owner_pid = get_u32(tb[CALLBOX_NL_A_SANDBOX_OWNER_PID], 0);
	s->owner_uid = get_u32(tb[CALLBOX_NL_A_SANDBOX_OWNER_UID], -1);
	s->state = get_u32(tb[CALLBOX_NL_A_SANDBOX_STATE], 0);
	s->age_ns = get_u64(tb[CALLBOX_NL_A_SANDBOX_AGE_NS], 0);
	s->nr_calls = get_u64(tb[CALLBOX_NL_A_SANDBOX_CALLS], 0);
	s->nr_exited = get_u64(tb[CALLBOX_NL_A_SANDBOX_EXITED], 0);
	s->nr_aborted = get_u64(tb[CALLBOX_NL_A_SANDBOX_ABORTED], 0);
	s->current_call = get_u64(tb[CALLBOX_NL_A_SANDBOX_CURRENT_CALL], 0);

	ret = parse_calls(head, len, CALLBOX_NL_A_SANDBOX_LIVE_CALL,
			  &s->live, &s->nr_live);
	if (!ret)
		ret = parse_calls(head, len, CALLBOX_NL_A_SANDBOX_RECENT_CALL,
				  &s->recent, &s->nr_recent);
	return ret;
}

/* Each sandbox of the reply, appended to ex->status. */
static int sandbox_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct exchange *ex = arg;
	struct callbox_sandbox_status *grown;
	size_t size;

	if (!from_kernel(msg) || nlh->nlmsg_type != ex->family ||
	    !genlmsg_valid_hdr(nlh, 0) ||
	    ((struct genlmsghdr *)nlmsg_data(nlh))->cmd !=
	    CALLBOX_NL_CMD_SANDBOX_GET)
		return NL_SKIP;
	if (ex->count == ex->size) {
		size = ex->size ? 2 * ex->size : 16;
		grown = realloc(ex->status, size * sizeof(*grown));
		if (!grown) {
			ex->error = -ENOMEM;
			return NL_STOP;
		}
		ex->status = grown;
		ex->size = size;
	}
	memset(&ex->status[ex->count], 0, sizeof(ex->status[0]));
	/* Counted first, so that a failure frees what it parsed. */
	ex->count++;
	ex->error = parse_sandbox(nlh, &ex->status[ex->count - 1]);
	return ex->error ? NL_STOP : NL_OK;
}

/*
 * Send CALLBOX_NL_CMD_SANDBOX_GET, a dump if @dump, else for sandbox @id,
 * and parse the replies into @ex. Returns 0 or -errno, and leaves the
 * kernel's error, if any, in ex->reply.
 */
static int exchange(struct nl_sock *sk, struct exchange *ex, bool dump,
		    uint64_t id)
{
	struct nl_msg *msg;
	struct nl_cb *cb;
	int ret;

	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!msg || !cb) {
		ret = -ENOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, ex->family, 0,
			 dump ? NLM_F_DUMP : 0, CALLBOX_NL_CMD_SANDBOX_GET,
			 CALLBOX_NL_FAMILY_VERSION) ||
	    (!dump && nla_put_u64(msg, CALLBOX_NL_A_SANDBOX_ID, id) < 0)) {
		ret = -ENOMEM;
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, sandbox_cb, ex);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, done_cb, ex);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, done_cb, ex);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, dump_intr_cb, ex);
	nl_cb_err(cb, NL_CB_CUSTOM, inspect_error_cb, &ex->reply);

	/* With NLM_F_ACK: a request ends with its ack, a dump with DONE. */
	ret = nl_send_auto(sk, msg);
	while (ret >= 0 && !ex->done && !ex->error && !ex->reply.error)
		ret = nl_recvmsgs(sk, cb);
	if (ret == -NLE_DUMP_INTR) {
		ex->interrupted = true;
		ret = 0;
	}
	if (ex->error)
		ret = ex->error;
	else if (ex->reply.error)
		ret = ex->reply.error;
	else if (ret < 0)
		ret = inspect_errno(ret);
	else
		ret = 0;
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return ret;
}

void callbox_inspect_free(struct callbox_sandbox_status *status, size_t count)
{
	size_t i;

	if (!status)
		return;
	for (i = 0; i < count; i++) {
		free(status[i].live);
		free(status[i].recent);
	}
	free(status);
}

/* The message of a failed exchange: the kernel's words if it had any. */
static int exchange_fail(const struct exchange *ex, int ret, const char *what)
{
	if (ex->reply.error && ex->reply.message[0])
		return inspect_fail(ret, "%s: %s (%s)", what, strerror(-ret),
				    ex->reply.message);
	return inspect_fail(ret, "%s: %s", what, strerror(-ret));
}

int callbox_inspect_list(struct callbox_sandbox_status **list, size_t *count)
{
	static const char what[] = "listing the sandboxes";
	struct exchange ex;
	struct nl_sock *sk;
	int family, ret, tries;

	inspect_begin();
	*list = NULL;
	*count = 0;
	ret = inspect_connect(what, &sk, &family);
	if (ret)
		return ret;
	for (tries = 0; tries < DUMP_TRIES; tries++) {
		memset(&ex, 0, sizeof(ex));
		ex.family = family;
		ret = exchange(sk, &ex, true, 0);
		if (!ret && !ex.interrupted)
			break;
		callbox_inspect_free(ex.status, ex.count);
		ex.status = NULL;
		if (ret) {
			exchange_fail(&ex, ret, what);
			goto out;
		}
	}
	if (tries == DUMP_TRIES) {
		ret = inspect_fail(-EAGAIN,
				   "%s: sandboxes came and went in each of %d tries",
				   what, DUMP_TRIES);
		goto out;
	}
	/* An empty list is an array all the same. */
	*list = ex.status ? ex.status : calloc(1, sizeof(**list));
	if (!*list) {
		ret = inspect_fail(-ENOMEM, "%s: out of memory", what);
		goto out;
	}
	*count = ex.count;
out:
	nl_socket_free(sk);
	return ret;
}

int callbox_inspect_get(uint64_t id, struct callbox_sandbox_status **status)
{
	struct exchange ex = { .family = 0 };
	struct nl_sock *sk;
	char what[64];
	int ret;

	inspect_begin();
	*status = NULL;
	snprintf(what, sizeof(what), "sandbox %llu", (unsigned long long)id);
	ret = inspect_connect(what, &sk, &ex.family);
	if (ret)
		return ret;
	ret = exchange(sk, &ex, false, id);
	if (!ret && ex.count != 1)
		ret = -EBADMSG;
	if (ret == -ENOENT)
		inspect_fail(ret, "no sandbox %llu that you may see",
			     (unsigned long long)id);
	else if (ret)
		exchange_fail(&ex, ret, what);
	if (ret)
		callbox_inspect_free(ex.status, ex.count);
	else
		*status = ex.status;
	nl_socket_free(sk);
	return ret;
}
