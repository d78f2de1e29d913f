/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox tracepoints: every call transition, kick, deadline, and sandbox
 * creation and shutdown. A disabled tracepoint is a static branch, so
 * they cost nothing unless enabled (make bench measures it).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM callbox

#if !defined(_CALLBOX_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CALLBOX_TRACE_H

#include <linux/tracepoint.h>

#define callbox_show_state(state)					\
	__print_symbolic(state, { 0, "NONE" },				\
			 { CALLBOX_STATE_QUEUED, "QUEUED" },		\
			 { CALLBOX_STATE_ENTERED, "ENTERED" },		\
			 { CALLBOX_STATE_HOSTCALL, "HOSTCALL" },	\
			 { CALLBOX_STATE_EXITED, "EXITED" },		\
			 { CALLBOX_STATE_ABORTED, "ABORTED" })

#define callbox_show_reason(reason)					\
	__print_symbolic(reason, { CALLBOX_ABORT_NONE, "none" },	\
			 { CALLBOX_ABORT_GUEST_ABORT, "guest_abort" },	\
			 { CALLBOX_ABORT_SHUTDOWN, "shutdown" },	\
			 { CALLBOX_ABORT_BAD_PORT, "bad_port" },	\
			 { CALLBOX_ABORT_MMIO, "mmio" },		\
			 { CALLBOX_ABORT_HALT, "halt" },		\
			 { CALLBOX_ABORT_ENTRY_FAILED, "entry_failed" },\
			 { CALLBOX_ABORT_INTERNAL_ERROR, "internal_error" },\
			 { CALLBOX_ABORT_UNEXPECTED_EXIT, "unexpected_exit" },\
			 { CALLBOX_ABORT_KILLED, "killed" },		\
			 { CALLBOX_ABORT_RUN_FAILED, "run_failed" },	\
			 { CALLBOX_ABORT_CANCELLED, "cancelled" },	\
			 { CALLBOX_ABORT_DEADLINE, "deadline" },	\
			 { CALLBOX_ABORT_SANDBOX_CLOSED, "sandbox_closed" },\
			 { CALLBOX_ABORT_OWNER_EXITED, "owner_exited" })

TRACE_EVENT(call_transition,
	    TP_PROTO(u64 sandbox_id, u64 call_id, u32 from, u32 to,
		     u32 reason, u32 flags),
	    TP_ARGS(sandbox_id, call_id, from, to, reason, flags),
	    TP_STRUCT__entry(__field(u64, sandbox_id)
			     __field(u64, call_id)
			     __field(u32, from)
			     __field(u32, to)
			     __field(u32, reason)
			     __field(u32, flags)),
	    TP_fast_assign(__entry->sandbox_id = sandbox_id;
			   __entry->call_id = call_id;
			   __entry->from = from;
			   __entry->to = to;
			   __entry->reason = reason;
			   __entry->flags = flags;),
	    TP_printk("sandbox=%llu call=%llu %s -> %s reason=%s flags=0x%x",
		      __entry->sandbox_id, __entry->call_id,
		      callbox_show_state(__entry->from),
		      callbox_show_state(__entry->to),
		      callbox_show_reason(__entry->reason), __entry->flags)
);

DECLARE_EVENT_CLASS(callbox_call_event,
		    TP_PROTO(u64 sandbox_id, u64 call_id),
		    TP_ARGS(sandbox_id, call_id),
		    TP_STRUCT__entry(__field(u64, sandbox_id)
				     __field(u64, call_id)),
		    TP_fast_assign(__entry->sandbox_id = sandbox_id;
				   __entry->call_id = call_id;),
		    TP_printk("sandbox=%llu call=%llu", __entry->sandbox_id,
			      __entry->call_id)
);

/* A cancellation forces the runner out of KVM_RUN. */
DEFINE_EVENT(callbox_call_event, call_kick,
	     TP_PROTO(u64 sandbox_id, u64 call_id),
	     TP_ARGS(sandbox_id, call_id)
);

/* The deadline timer fired (the call may have ended already). */
DEFINE_EVENT(callbox_call_event, call_deadline,
	     TP_PROTO(u64 sandbox_id, u64 call_id),
	     TP_ARGS(sandbox_id, call_id)
);

TRACE_EVENT(sandbox_create,
	    TP_PROTO(u64 sandbox_id, pid_t owner_pid, u32 owner_uid),
	    TP_ARGS(sandbox_id, owner_pid, owner_uid),
	    TP_STRUCT__entry(__field(u64, sandbox_id)
			     __field(pid_t, owner_pid)
			     __field(u32, owner_uid)),
	    TP_fast_assign(__entry->sandbox_id = sandbox_id;
			   __entry->owner_pid = owner_pid;
			   __entry->owner_uid = owner_uid;),
	    TP_printk("sandbox=%llu owner_pid=%d owner_uid=%u",
		      __entry->sandbox_id, __entry->owner_pid,
		      __entry->owner_uid)
);

TRACE_EVENT(sandbox_shutdown,
	    TP_PROTO(u64 sandbox_id),
	    TP_ARGS(sandbox_id),
	    TP_STRUCT__entry(__field(u64, sandbox_id)),
	    TP_fast_assign(__entry->sandbox_id = sandbox_id;),
	    TP_printk("sandbox=%llu", __entry->sandbox_id)
);

#endif /* _CALLBOX_TRACE_H */

/* Out of tree: the header is found next to this file. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
