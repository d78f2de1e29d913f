/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sandboxes and calls of the "callbox" netlink family, as GET and
 * dump return them, parsed strictly (see nl_util.h).
 */
#ifndef CALLBOX_NL_SANDBOX_UTIL_H
#define CALLBOX_NL_SANDBOX_UTIL_H

#include "nl_util.h"

/* ---- sandboxes and calls ---- */

struct cbnl_trans {
	uint32_t state;
	uint64_t time_ns;
};

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

#endif /* CALLBOX_NL_SANDBOX_UTIL_H */
