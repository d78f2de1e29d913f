// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the "callbox" generic netlink family, as specified in
 * Documentation/netlink/specs/callbox.yaml (the uapi header and the
 * request policies in netlink_policy.c are generated from it).
 *
 * SANDBOX_GET reports one sandbox with its live and recent calls, or dumps
 * every sandbox the caller may see, without their calls. A caller sees the
 * sandboxes its uid owns, or all of them with CAP_SYS_ADMIN; a sandbox it
 * may not see gets the same answer as one that does not exist.
 *
 * The "events" group (CAP_SYS_ADMIN to join: events show every user's
 * sandboxes) is fed by netlink_events.c.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/netlink.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "callbox.h"
#include "netlink.h"
#include "netlink_policy.h"

static int callbox_nl_sandbox_get_doit(struct sk_buff *skb,
				       struct genl_info *info);
static int callbox_nl_sandbox_get_dumpit(struct sk_buff *skb,
					 struct netlink_callback *cb);

static const struct genl_ops callbox_nl_ops[] = {
	{
		.cmd = CALLBOX_NL_CMD_SANDBOX_GET,
		.doit = callbox_nl_sandbox_get_doit,
		.dumpit = callbox_nl_sandbox_get_dumpit,
		/*
		 * 6.1 has one policy per command: the core checks the do
		 * policy, and the dump checks its own request against the
		 * dump policy too.
		 */
		.policy = callbox_nl_sandbox_get_do_policy,
		.maxattr = CALLBOX_NL_A_SANDBOX_MAX,
	},
};

static const struct genl_multicast_group callbox_nl_mcgrps[] = {
	[CALLBOX_NL_GRP_EVENTS] = {
		.name = CALLBOX_NL_MCGRP_EVENTS,
		/* Events show every user's sandboxes. */
		.flags = GENL_MCAST_CAP_SYS_ADMIN,
	},
};

struct genl_family callbox_nl_family __ro_after_init = {
	.name = CALLBOX_NL_FAMILY_NAME,
	.version = CALLBOX_NL_FAMILY_VERSION,
	.maxattr = CALLBOX_NL_A_SANDBOX_MAX,
	.netnsok = false,
	/* The handlers take references; they need no genl_mutex. */
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = callbox_nl_ops,
	.n_ops = ARRAY_SIZE(callbox_nl_ops),
	/* Every command gets strict validation. */
	.resv_start_op = CALLBOX_NL_CMD_SANDBOX_GET,
	.mcgrps = callbox_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(callbox_nl_mcgrps),
};

/*
 * May the requester, of effective uid @euid, see @sb? @admin caches the
 * capability check, -1 until it is made: it is made only for a sandbox of
 * another uid, and at most once, as a failed check may be audited. The
 * owner is the creator's effective uid, so the requester's effective uid
 * is what it is compared with (the credentials netlink passes carry the
 * real uid, which a setuid program or a daemon after seteuid() does not
 * create its sandboxes with).
 */
static bool callbox_nl_may_see(const struct sk_buff *skb, kuid_t euid,
			       const struct callbox_sandbox *sb, int *admin)
{
	if (uid_eq(sb->owner_uid, euid))
		return true;
	if (*admin < 0)
		*admin = netlink_capable(skb, CAP_SYS_ADMIN);
	return *admin;
}

/* The most a call nest takes: every attribute, every transition. */
static size_t callbox_nl_call_size(void)
{
	size_t transition = nla_total_size(0) +		/* the nest */
			    nla_total_size(sizeof(u32)) +	/* STATE */
			    nla_total_size_64bit(sizeof(u64));	/* TIME_NS */

	return nla_total_size(0) +			/* the nest */
	       /* ID, AGE_NS, DEADLINE_NS */
	       3 * nla_total_size_64bit(sizeof(u64)) +
	       /* STATE, REASON, FLAGS, RUNNER_TID, TRANSITIONS */
	       5 * nla_total_size(sizeof(u32)) +
	       CALLBOX_NL_MAX_TRANSITIONS * transition;
}

/* The most the attributes of @r take. */
static size_t callbox_nl_sandbox_size(const struct callbox_sandbox_report *r,
				      bool with_calls)
{
	/* ID, AGE_NS, CALLS, EXITED, ABORTED, CURRENT_CALL */
	size_t size = 6 * nla_total_size_64bit(sizeof(u64)) +
		      /* OWNER_PID, OWNER_UID, STATE */
		      3 * nla_total_size(sizeof(u32));

	if (with_calls)
		size += (size_t)(r->nr_live + r->nr_recent) *
			callbox_nl_call_size();
	return size;
}

static int callbox_nl_transition_fill(struct sk_buff *msg,
				      const struct callbox_transition *t)
{
	struct nlattr *nest;

	nest = nla_nest_start(msg, CALLBOX_NL_A_CALL_TRANSITION);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, CALLBOX_NL_A_TRANSITION_STATE, t->state) ||
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_TRANSITION_TIME_NS, t->time_ns,
			      CALLBOX_NL_A_TRANSITION_PAD)) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

/* One call, as a nest of type @attrtype (LIVE_CALL or RECENT_CALL). */
static int callbox_nl_call_fill(struct sk_buff *msg, int attrtype,
				const struct callbox_call_record *rec)
{
	u32 n = min_t(u32, rec->nr_transitions, CALLBOX_NL_MAX_TRANSITIONS);
	struct nlattr *nest;
	u32 i;

	nest = nla_nest_start(msg, attrtype);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(msg, CALLBOX_NL_A_CALL_ID, rec->id,
			      CALLBOX_NL_A_CALL_PAD) ||
	    nla_put_u32(msg, CALLBOX_NL_A_CALL_STATE, rec->state) ||
	    nla_put_u32(msg, CALLBOX_NL_A_CALL_REASON, rec->reason) ||
	    nla_put_u32(msg, CALLBOX_NL_A_CALL_FLAGS, rec->flags) ||
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_CALL_AGE_NS, rec->age_ns,
			      CALLBOX_NL_A_CALL_PAD))
		goto out_cancel_nest;
	if (rec->runner_tid &&
	    nla_put_u32(msg, CALLBOX_NL_A_CALL_RUNNER_TID, rec->runner_tid))
		goto out_cancel_nest;
	if (rec->deadline_left_ns >= 0 &&
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_CALL_DEADLINE_NS,
			      rec->deadline_left_ns, CALLBOX_NL_A_CALL_PAD))
		goto out_cancel_nest;
	for (i = 0; i < n; i++) {
		if (callbox_nl_transition_fill(msg, &rec->transitions[i]))
			goto out_cancel_nest;
	}
	if (nla_put_u32(msg, CALLBOX_NL_A_CALL_TRANSITIONS,
			rec->nr_transitions))
		goto out_cancel_nest;
	nla_nest_end(msg, nest);
	return 0;

out_cancel_nest:
	nla_nest_cancel(msg, nest);
	return -EMSGSIZE;
}

static int callbox_nl_sandbox_fill(struct sk_buff *msg,
				   const struct callbox_sandbox_report *r,
				   struct user_namespace *user_ns,
				   bool with_calls)
{
	u32 i;

	if (nla_put_u64_64bit(msg, CALLBOX_NL_A_SANDBOX_ID, r->id,
			      CALLBOX_NL_A_SANDBOX_PAD) ||
	    nla_put_u32(msg, CALLBOX_NL_A_SANDBOX_OWNER_PID, r->owner_pid) ||
	    nla_put_u32(msg, CALLBOX_NL_A_SANDBOX_OWNER_UID,
			from_kuid_munged(user_ns, r->owner_uid)) ||
	    nla_put_u32(msg, CALLBOX_NL_A_SANDBOX_STATE, r->state) ||
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_SANDBOX_AGE_NS, r->age_ns,
			      CALLBOX_NL_A_SANDBOX_PAD) ||
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_SANDBOX_CALLS, r->nr_published,
			      CALLBOX_NL_A_SANDBOX_PAD) ||
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_SANDBOX_EXITED, r->nr_exited,
			      CALLBOX_NL_A_SANDBOX_PAD) ||
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_SANDBOX_ABORTED, r->nr_aborted,
			      CALLBOX_NL_A_SANDBOX_PAD))
		return -EMSGSIZE;
	if (r->current_call &&
	    nla_put_u64_64bit(msg, CALLBOX_NL_A_SANDBOX_CURRENT_CALL,
			      r->current_call, CALLBOX_NL_A_SANDBOX_PAD))
		return -EMSGSIZE;
	if (!with_calls)
		return 0;
	for (i = 0; i < r->nr_live; i++) {
		if (callbox_nl_call_fill(msg, CALLBOX_NL_A_SANDBOX_LIVE_CALL,
					 &r->live[i]))
			return -EMSGSIZE;
	}
	for (i = 0; i < r->nr_recent; i++) {
		if (callbox_nl_call_fill(msg, CALLBOX_NL_A_SANDBOX_RECENT_CALL,
					 &r->recent[i]))
			return -EMSGSIZE;
	}
	return 0;
}

/*
 * One SANDBOX_GET message for @r. @cb is the dump's, NULL for a doit
 * reply. On -EMSGSIZE, @msg is as it was.
 */
static int callbox_nl_sandbox_put(struct sk_buff *msg, u32 portid, u32 seq,
				  int flags, struct netlink_callback *cb,
				  const struct callbox_sandbox_report *r,
				  struct user_namespace *user_ns,
				  bool with_calls)
{
	void *hdr;

	hdr = genlmsg_put(msg, portid, seq, &callbox_nl_family, flags,
			  CALLBOX_NL_CMD_SANDBOX_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);
	if (callbox_nl_sandbox_fill(msg, r, user_ns, with_calls)) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return 0;
}

static int callbox_nl_sandbox_get_doit(struct sk_buff *skb,
				       struct genl_info *info)
{
	struct callbox_sandbox_report *report;
	struct callbox_sandbox *sb;
	struct sk_buff *msg;
	struct nlattr *attr;
	int admin = -1;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, CALLBOX_NL_A_SANDBOX_ID)) {
		GENL_SET_ERR_MSG(info, "missing attribute");
		return -EINVAL;
	}
	attr = info->attrs[CALLBOX_NL_A_SANDBOX_ID];

	sb = callbox_registry_find(nla_get_u64(attr));
	/* A request is handled in the context of the task that sent it. */
	if (sb && !callbox_nl_may_see(skb, current_euid(), sb, &admin)) {
		callbox_sandbox_put(sb);
		sb = NULL;
	}
	/* Whether it exists is none of the caller's business. */
	if (!sb) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no such sandbox");
		return -ENOENT;
	}
	report = callbox_sandbox_report(sb, true);
	callbox_sandbox_put(sb);
	if (!report) {
		GENL_SET_ERR_MSG(info, "out of memory");
		return -ENOMEM;
	}

	msg = genlmsg_new(callbox_nl_sandbox_size(report, true), GFP_KERNEL);
	if (!msg) {
		GENL_SET_ERR_MSG(info, "out of memory");
		ret = -ENOMEM;
		goto out_free_report;
	}
	ret = callbox_nl_sandbox_put(msg, info->snd_portid, info->snd_seq, 0,
				     NULL, report,
				     sk_user_ns(NETLINK_CB(skb).sk), true);
	/* The size asked for is the most the report can take. */
	if (WARN_ON_ONCE(ret)) {
		GENL_SET_ERR_MSG(info, "reply too large");
		goto out_free_msg;
	}
	callbox_sandbox_report_free(report);

	ret = genlmsg_reply(msg, info);
	if (ret)
		GENL_SET_ERR_MSG(info, "reply not delivered");
	return ret;

out_free_msg:
	nlmsg_free(msg);
out_free_report:
	callbox_sandbox_report_free(report);
	return ret;
}

/**
 * struct callbox_nl_dump_ctx - where a dump is, in &netlink_callback.ctx
 * @next_id: the sandbox id to go on from
 * @euid: the requester's effective uid, taken as the dump starts (in the
 *	context of the task that sent the request; the rest of the dump
 *	runs in whichever reads the socket)
 * @admin: whether the requester may see every sandbox, as for
 *	callbox_nl_may_see(): -1 until checked, and checked, in the
 *	requester's context, by the end of the first round at the latest
 * @checked: the request passed the dump policy
 */
struct callbox_nl_dump_ctx {
	u64 next_id;
	kuid_t euid;
	int admin;
	bool checked;
};

static int callbox_nl_sandbox_get_dumpit(struct sk_buff *skb,
					 struct netlink_callback *cb)
{
	struct callbox_nl_dump_ctx *ctx = (struct callbox_nl_dump_ctx *)cb->ctx;
	struct user_namespace *user_ns = sk_user_ns(NETLINK_CB(cb->skb).sk);
	struct callbox_sandbox_report *report;
	struct callbox_sandbox *sb;
	bool first = false;
	int ret = 0;

	static_assert(sizeof(*ctx) <= sizeof(cb->ctx));

	if (!ctx->checked) {
		ret = nla_validate(nlmsg_attrdata(cb->nlh, GENL_HDRLEN),
				   nlmsg_attrlen(cb->nlh, GENL_HDRLEN),
				   CALLBOX_NL_A_SANDBOX_MAX,
				   callbox_nl_sandbox_get_dump_policy,
				   cb->extack);
		if (ret)
			return ret;
		ctx->euid = current_euid();
		ctx->admin = -1;
		ctx->checked = true;
		first = true;
	}

	/*
	 * Every message says whether sandboxes came or went meanwhile. The
	 * first round sets prev_seq itself (netlink takes 0 for "unset"; the
	 * registry's count starts at 1): a dump that lists nothing is
	 * flagged like any other.
	 */
	cb->seq = callbox_registry_seq();
	if (first)
		cb->prev_seq = cb->seq;

	while ((sb = callbox_registry_next(&ctx->next_id))) {
		if (!callbox_nl_may_see(cb->skb, ctx->euid, sb, &ctx->admin)) {
			callbox_sandbox_put(sb);
			ctx->next_id++;
			continue;
		}
		report = callbox_sandbox_report(sb, false);
		callbox_sandbox_put(sb);
		if (!report) {
			NL_SET_ERR_MSG(cb->extack, "out of memory");
			return -ENOMEM;
		}
		ret = callbox_nl_sandbox_put(skb, NETLINK_CB(cb->skb).portid,
					     cb->nlh->nlmsg_seq, NLM_F_MULTI,
					     cb, report, user_ns, false);
		callbox_sandbox_report_free(report);
		if (ret)
			break;
		ctx->next_id++;
	}

	/* This message is full: the sandbox that did not fit goes next. */
	if (ret == -EMSGSIZE && skb->len)
		goto more;
	if (ret) {
		NL_SET_ERR_MSG(cb->extack, "sandbox too large for a message");
		return ret;
	}
	/*
	 * No room left for NLMSG_DONE: netlink would send it in a round of
	 * its own without calling us, unchecked against the registry. Come
	 * back for an empty round instead, which checks it.
	 */
	if (skb_tailroom(skb) < nlmsg_total_size(sizeof(int)))
		goto more;
	/*
	 * Done: return 0 rather than skb->len, so that NLMSG_DONE goes out
	 * in this same message and a dump that fits in one message is
	 * whole by construction. DONE is checked against cb->seq as read
	 * again here: it is flagged if sandboxes came or went during this
	 * round, or since the previous one.
	 */
	cb->seq = callbox_registry_seq();
	return 0;

more:
	/*
	 * The next rounds run in whichever task reads the socket: settle
	 * what the requester may see now, in its own context.
	 */
	if (ctx->admin < 0)
		ctx->admin = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	return skb->len;
}

int __init callbox_netlink_init(void)
{
	return genl_register_family(&callbox_nl_family);
}

/*
 * For module exit, and for init's failure path. No sandbox is left (each
 * holds the module), so no event is recorded any more: send those still
 * queued, make sure the work is neither queued nor running (it can have
 * queued itself once more), and only then let the family go, so that no
 * message goes out for a family that is not there.
 */
void callbox_netlink_exit(void)
{
	callbox_nl_events_flush();
	genl_unregister_family(&callbox_nl_family);
}
