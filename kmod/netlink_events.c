// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the "events" multicast group of the callbox netlink family.
 *
 * It hears of each sandbox created or shut down and of each change of a
 * call's state. Those happen under the sandbox lock, in any context (the
 * deadline hrtimer's hardirq too), where no message can be built: the
 * producer copies a small record into a bounded FIFO, and one work item
 * sends the records in process context, in the order they were recorded.
 * The work runs a jiffy after the first record (at once if the FIFO is
 * half full) and packs many events into each message buffer: a busy
 * sandbox costs its listeners one wake-up per batch, not per event.
 * Nothing is recorded while no one listens. When the FIFO is full, events
 * are dropped and counted, and one LOST event with the count takes their
 * place in the stream.
 *
 * Locking: the FIFO's lock is irq-safe and nests inside the sandbox lock;
 * nothing else is taken under it.
 */
#include <linux/lockdep.h>
#include <linux/spinlock.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

#include "callbox.h"
#include "netlink.h"

/* Events recorded and not yet sent, at most. */
#define CALLBOX_NL_FIFO_SIZE	1024
/* How long the first event of a batch waits for others, in jiffies. */
#define CALLBOX_NL_BATCH_DELAY	1

/**
 * struct callbox_nl_event_rec - an event, from its recording to its sending
 * @type: an &enum callbox_nl_event
 * @from: CALL_TRANSITION: the state the call left (0 for a new call)
 * @to: CALL_TRANSITION: the state it entered
 * @reason: CALL_TRANSITION: the call's &enum callbox_abort_reason
 * @flags: CALL_TRANSITION: the call's flags after the change
 * @owner_uid: the sandbox owner's uid
 * @sandbox_id: the sandbox
 * @call_id: CALL_TRANSITION: the call
 * @time_ns: when it was recorded, CLOCK_MONOTONIC
 * @lost: LOST: how many events were dropped in its place
 */
struct callbox_nl_event_rec {
	u32 type;
	u32 from;
	u32 to;
	u32 reason;
	u32 flags;
	kuid_t owner_uid;
	u64 sandbox_id;
	u64 call_id;
	u64 time_ns;
	u64 lost;
};

/**
 * struct callbox_nl_fifo - the events between their producers and the work
 * @lock: guards the rest; irq-safe, producers hold a sandbox lock
 * @head: free-running index of the next record to send
 * @tail: free-running index of the next free place
 * @dropped: events dropped since the last LOST record was queued
 * @recs: the records, at @head % CALLBOX_NL_FIFO_SIZE onwards
 */
struct callbox_nl_fifo {
	spinlock_t lock;	/* irq-safe: taken in hardirq context */
	unsigned int head;
	unsigned int tail;
	u64 dropped;
	struct callbox_nl_event_rec recs[CALLBOX_NL_FIFO_SIZE];
};

static struct callbox_nl_fifo callbox_nl_fifo = {
	.lock = __SPIN_LOCK_UNLOCKED(callbox_nl_fifo.lock),
};

/*
 * Events that were taken from the FIFO but could not be sent (no memory):
 * they are reported as lost, ahead of the next event. Only the work uses
 * it, and the work never runs on two CPUs at once.
 */
static u64 callbox_nl_unsent;

static void callbox_nl_event_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(callbox_nl_event_work, callbox_nl_event_work_fn);

/* Queue @rec for the work to send. Any context; allocates nothing. */
static void callbox_nl_event_record(const struct callbox_nl_event_rec *rec)
{
	struct callbox_nl_fifo *fifo = &callbox_nl_fifo;
	unsigned long irqflags;
	unsigned int room, used;

	spin_lock_irqsave(&fifo->lock, irqflags);
	room = CALLBOX_NL_FIFO_SIZE - (fifo->tail - fifo->head);
	/* After a loss, the LOST record goes first. */
	if (room < (fifo->dropped ? 2 : 1)) {
		fifo->dropped++;
	} else {
		if (fifo->dropped) {
			fifo->recs[fifo->tail++ % CALLBOX_NL_FIFO_SIZE] =
				(struct callbox_nl_event_rec) {
					.type = CALLBOX_NL_EVENT_LOST,
					.time_ns = rec->time_ns,
					.lost = fifo->dropped,
				};
			fifo->dropped = 0;
		}
		fifo->recs[fifo->tail++ % CALLBOX_NL_FIFO_SIZE] = *rec;
	}
	used = fifo->tail - fifo->head;
	spin_unlock_irqrestore(&fifo->lock, irqflags);

	/* Already queued, if not the first of a batch: then this is cheap. */
	if (used >= CALLBOX_NL_FIFO_SIZE / 2)
		mod_delayed_work(system_wq, &callbox_nl_event_work, 0);
	else
		queue_delayed_work(system_wq, &callbox_nl_event_work,
				   CALLBOX_NL_BATCH_DELAY);
}

/**
 * callbox_netlink_call_event_locked() - a call changed state
 * @call: the call, in its new state, with its reason and flags final
 * @from: the state it left, 0 if it was just published
 *
 * Any context, the sandbox lock held: sleeps and allocates nothing. The
 * caller has found that someone listens (callbox_nl_listening()).
 */
void callbox_netlink_call_event_locked(const struct callbox_call *call,
				       u32 from)
{
	const struct callbox_sandbox *sb = call->sb;
	/* The time the call's record has for it: the latest it holds. */
	u32 last = min_t(u32, call->nr_transitions,
			 CALLBOX_NL_MAX_TRANSITIONS) - 1;

	lockdep_assert_held(&sb->lock);

	callbox_nl_event_record(&(struct callbox_nl_event_rec) {
		.type = CALLBOX_NL_EVENT_CALL_TRANSITION,
		.from = from,
		.to = call->state,
		.reason = call->reason,
		.flags = call->flags,
		.owner_uid = sb->owner_uid,
		.sandbox_id = sb->id,
		.call_id = call->id,
		.time_ns = call->transitions[last].time_ns,
	});
}

/**
 * callbox_netlink_sandbox_event() - a sandbox was created or shut down
 * @sb: the sandbox
 * @type: CALLBOX_NL_EVENT_SANDBOX_CREATE or _SHUTDOWN
 *
 * Any context, with or without the sandbox lock: sleeps and allocates
 * nothing.
 */
void callbox_netlink_sandbox_event(const struct callbox_sandbox *sb, u32 type)
{
	if (!callbox_nl_listening())
		return;
	callbox_nl_event_record(&(struct callbox_nl_event_rec) {
		.type = type,
		.owner_uid = sb->owner_uid,
		.sandbox_id = sb->id,
		.time_ns = ktime_get_ns(),
	});
}

/* The next record to send, oldest first; false if there is none. */
static bool callbox_nl_event_take(struct callbox_nl_event_rec *rec)
{
	struct callbox_nl_fifo *fifo = &callbox_nl_fifo;
	bool found = true;

	spin_lock_irq(&fifo->lock);
	if (fifo->head != fifo->tail) {
		*rec = fifo->recs[fifo->head++ % CALLBOX_NL_FIFO_SIZE];
	} else if (fifo->dropped) {
		/* The last events were dropped, and no event came since. */
		*rec = (struct callbox_nl_event_rec) {
			.type = CALLBOX_NL_EVENT_LOST,
			.time_ns = ktime_get_ns(),
			.lost = fifo->dropped,
		};
		fifo->dropped = 0;
	} else {
		found = false;
	}
	spin_unlock_irq(&fifo->lock);
	return found;
}

static int callbox_nl_event_fill(struct sk_buff *msg,
				 const struct callbox_nl_event_rec *rec)
{
	if (nla_put_u32(msg, CALLBOX_NL_A_EVENT_TYPE, rec->type))
		return -EMSGSIZE;
	if (rec->type == CALLBOX_NL_EVENT_LOST) {
		if (nla_put_u64_64bit(msg, CALLBOX_NL_A_EVENT_TIME_NS,
				      rec->time_ns, CALLBOX_NL_A_EVENT_PAD) ||
		    nla_put_u64_64bit(msg, CALLBOX_NL_A_EVENT_LOST, rec->lost,
				      CALLBOX_NL_A_EVENT_PAD))
			return -EMSGSIZE;
		return 0;
	}
	if (nla_put_u64_64bit(msg, CALLBOX_NL_A_EVENT_SANDBOX_ID,
			      rec->sandbox_id, CALLBOX_NL_A_EVENT_PAD))
		return -EMSGSIZE;
	if (rec->type == CALLBOX_NL_EVENT_CALL_TRANSITION &&
	    (nla_put_u64_64bit(msg, CALLBOX_NL_A_EVENT_CALL_ID, rec->call_id,
			       CALLBOX_NL_A_EVENT_PAD) ||
	     nla_put_u32(msg, CALLBOX_NL_A_EVENT_FROM, rec->from) ||
	     nla_put_u32(msg, CALLBOX_NL_A_EVENT_TO, rec->to) ||
	     nla_put_u32(msg, CALLBOX_NL_A_EVENT_REASON, rec->reason) ||
	     nla_put_u32(msg, CALLBOX_NL_A_EVENT_FLAGS, rec->flags)))
		return -EMSGSIZE;
	if (nla_put_u64_64bit(msg, CALLBOX_NL_A_EVENT_TIME_NS, rec->time_ns,
			      CALLBOX_NL_A_EVENT_PAD) ||
	    nla_put_u32(msg, CALLBOX_NL_A_EVENT_OWNER_UID,
			from_kuid_munged(&init_user_ns, rec->owner_uid)))
		return -EMSGSIZE;
	return 0;
}

/* Append @rec to @msg as one EVENT_NTF message; -EMSGSIZE if full. */
static int callbox_nl_event_put(struct sk_buff *msg,
				const struct callbox_nl_event_rec *rec)
{
	void *hdr;

	hdr = genlmsg_put(msg, 0, 0, &callbox_nl_family, 0,
			  CALLBOX_NL_CMD_EVENT_NTF);
	if (!hdr)
		return -EMSGSIZE;
	if (callbox_nl_event_fill(msg, rec)) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return 0;
}

/*
 * Multicast the messages in *@msg, if any, and let go of it. Errors are
 * the listeners' (a full socket learns ENOBUFS) or mean that no one
 * listens any more.
 */
static void callbox_nl_event_flush(struct sk_buff **msg)
{
	if (!*msg)
		return;
	if ((*msg)->len)
		genlmsg_multicast(&callbox_nl_family, *msg, 0,
				  CALLBOX_NL_GRP_EVENTS, GFP_KERNEL);
	else
		nlmsg_free(*msg);
	*msg = NULL;
}

/*
 * Add @rec to the batch in *@msg, sending the batch first if it is full.
 * Return: 0, or -ENOMEM if no buffer could be had for it.
 */
static int callbox_nl_event_add(struct sk_buff **msg,
				const struct callbox_nl_event_rec *rec)
{
	if (*msg && !callbox_nl_event_put(*msg, rec))
		return 0;
	callbox_nl_event_flush(msg);
	*msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!*msg)
		return -ENOMEM;
	/* An event always fits an empty buffer. */
	WARN_ON_ONCE(callbox_nl_event_put(*msg, rec));
	return 0;
}

/* Add @rec, after reporting the events the work could not send. */
static void callbox_nl_event_deliver(struct sk_buff **msg,
				     struct callbox_nl_event_rec *rec)
{
	struct callbox_nl_event_rec lost = {
		.type = CALLBOX_NL_EVENT_LOST,
		.time_ns = rec->time_ns,
		.lost = callbox_nl_unsent,
	};

	if (callbox_nl_unsent) {
		if (rec->type == CALLBOX_NL_EVENT_LOST) {
			/* One LOST event counts both. */
			rec->lost += callbox_nl_unsent;
			callbox_nl_unsent = 0;
		} else if (!callbox_nl_event_add(msg, &lost)) {
			callbox_nl_unsent = 0;
		} else {
			/* @rec may not go ahead of the LOST it follows. */
			callbox_nl_unsent++;
			return;
		}
	}
	if (callbox_nl_event_add(msg, rec))
		callbox_nl_unsent += rec->type == CALLBOX_NL_EVENT_LOST ?
				     rec->lost : 1;
}

/*
 * Send the recorded events in order, packed into as few messages as
 * they fit. One FIFO's worth at a time, so that a steady stream of
 * events does not hold the worker for ever.
 */
static void callbox_nl_event_work_fn(struct work_struct *work)
{
	struct callbox_nl_event_rec rec;
	struct sk_buff *msg = NULL;
	unsigned int n;

	for (n = 0; n < CALLBOX_NL_FIFO_SIZE; n++) {
		if (!callbox_nl_event_take(&rec))
			break;
		/* The listeners may have gone meanwhile. */
		if (!callbox_nl_listening())
			continue;
		callbox_nl_event_deliver(&msg, &rec);
		cond_resched();
	}
	callbox_nl_event_flush(&msg);
	if (n == CALLBOX_NL_FIFO_SIZE)
		mod_delayed_work(system_wq, &callbox_nl_event_work, 0);
}

/*
 * For module exit, once no sandbox is left (each holds the module), so no
 * event is recorded any more: send those still queued, and make sure the
 * work is neither queued nor running (it can have queued itself once
 * more), before the family goes.
 */
void callbox_nl_events_flush(void)
{
	flush_delayed_work(&callbox_nl_event_work);
	cancel_delayed_work_sync(&callbox_nl_event_work);
}
