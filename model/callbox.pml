/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox: Promela model of the call state machine ("DOC: Call states" in
 * uapi/linux/callbox.h), checked exhaustively by spin in tools/model-check.sh.
 *
 * One sandbox, two calls (ids 1 and 2), and these threads:
 *
 *   Submitter  submits both calls (both first, or one after the other) and
 *              for each one either WAITs, or WAITs with a timeout that may
 *              fire at any moment and then CANCELs and WAITs again;
 *   Runner     loops CALL_RUN; the guest it enters may write the result and
 *              exit DONE, exit HOSTCALL, fault, or be interrupted by a
 *              plain signal; on ENOTRECOVERABLE it restores the guest and
 *              issues SANDBOX_RESET;
 *   Timer      fires each call's deadline at any moment, or never;
 *   Closer     shuts the sandbox down at any moment, or never;
 *   Stray      cancels call 1 once call 2 exists (a stale cancel), or never;
 *   Final      checks the end state once nothing else can move.
 *
 * Everything the kernel does under the sandbox spinlock is one atomic
 * block. The vCPU runs outside the lock, in steps, so that cancellations,
 * deadlines and close interleave with the guest.
 *
 * The invariants are asserts tagged INVn (tools/model-check.sh names the
 * violated one from the error trail):
 *   INV1 a call moves only along an edge of next_states[], so it reaches
 *        exactly one terminal state and never leaves it;
 *   INV2 EXITED implies the guest ran and wrote this call's result;
 *   INV3 a result is read only from an EXITED call whose result was written
 *        (the Hyperlight #373 bug: reading a result that was never written);
 *   INV4 ABORTED without GUEST_RAN implies guest code never ran for it;
 *   INV5 cancel returned 0 <=> the call ends ABORTED(CANCELLED); at most one
 *        cancellation wins, and the winner fixes the final reason;
 *   INV6 a kick, cancel or deadline for one call never touches another;
 *   INV7 poisoned iff a call ended ABORTED after running and not at a DONE
 *        boundary (since the last RESET); the guest is never entered for a
 *        new call in the middle of an old one;
 *   INV8 no deadlock: every waiter returns (spin's invalid end states).
 *
 * Mutants, each expected to fail (see tools/model-check.sh):
 *   -DBUG_HYPERLIGHT   the submitter decides with a userspace "running"
 *                      flag, as Hyperlight did before PR #385;
 *   -DBUG_CANCEL_NO_ID CALL_CANCEL acts on whatever call is current instead
 *                      of the call it names (a stale cancel hits the next).
 */

#define NCALLS		2	/* call ids are 1..NCALLS */
#define NIDS		(NCALLS + 1)	/* arrays are indexed by id; 0: none */
#ifndef NRUNNERS
#define NRUNNERS	1	/* runner threads, 1 or 2 */
#endif
#define NTHREADS	(NRUNNERS + 1)	/* indexed by runner thread; 0: none */

/* enum callbox_call_state; NONE: never submitted (or SUBMIT failed) */
#define NONE		0
#define QUEUED		1
#define ENTERED		2
#define EXITED		3
#define ABORTED		4
#define HOSTCALL	5
#define NSTATES		6

#define BIT(s)		(1 << (s))
#define TERMINAL(c)	(state[c] == EXITED || state[c] == ABORTED)

/* enum callbox_abort_reason: one value stands for every guest-caused abort */
#define R_NONE		0
#define R_FAULT		1
#define R_CANCELLED	11
#define R_DEADLINE	12
#define R_CLOSED	13

/* ioctl results */
#define OK		0
#define EALREADY	114

/* how one KVM_RUN ended */
#define X_NONE		0	/* not entered (yet) */
#define X_DONE		1	/* OUT to CALLBOX_PORT_DONE */
#define X_HOSTCALL	2	/* OUT to CALLBOX_PORT_HOSTCALL */
#define X_FAULT		3	/* abort port, bad port, MMIO, triple fault, ... */
#define X_SIGNAL	4	/* -EINTR: a signal, no cancellation */
#define X_KICK		5	/* -EINTR: callbox's own kick */

/*
 * For each state, the set of states it may move to. This block must list
 * the same edges as callbox_call_next_states[] in kmod/call.c:
 * tools/model-check.sh compares the two and fails on any difference.
 */
byte next_states[NSTATES];

inline init_next_states()
{
	next_states[QUEUED] = BIT(ENTERED) | BIT(ABORTED);
	next_states[ENTERED] = BIT(HOSTCALL) | BIT(EXITED) | BIT(ABORTED);
	next_states[HOSTCALL] = BIT(ENTERED) | BIT(ABORTED);
	next_states[EXITED] = 0;
	next_states[ABORTED] = 0;
}

/* ---- the sandbox (guarded by its spinlock) ---- */
byte next_id = 1;
bit in_queue[NIDS];	/* the FIFO of QUEUED calls; ids increase, so the */
			/* head is the lowest id in it */
byte current;		/* the ENTERED or HOSTCALL call, 0 if none */
byte runner;		/* the thread in the vCPU run loop for current, or 0 */
bit kick[NTHREADS];	/* per runner thread: a kick is pending */
bit poisoned;
bit shutdown;

/* ---- the calls (guarded by the spinlock) ---- */
byte state[NIDS];
byte reason[NIDS];
bit guest_ran[NIDS];	/* CALLBOX_CALL_GUEST_RAN */
byte cancel_reason[NIDS];	/* the cancellation that won, 0 if none */

/* ---- ghosts: what really happened, never read by the algorithm ---- */
bit executed[NIDS];	/* guest code ran for this call */
bit result_written[NIDS];	/* the guest wrote this call's result */
byte cancel_wins[NIDS];	/* CALL_CANCELs on this call that returned 0 */
byte kick_for[NTHREADS];	/* the call each pending kick was sent for */
bit mid_call;		/* the guest stopped inside a call, not at a DONE */
bit should_poison;	/* a call aborted after running, not at a DONE */
#ifdef BUG_HYPERLIGHT
bit us_running[NIDS];	/* userspace flag, set by the runner thread */
#endif

/*
 * Every state change goes through here, as in the kernel's
 * callbox_call_transition_locked(): the edge must be in next_states[].
 */
inline transition(tc, tto)
{
	assert(tc >= 1 && tc <= NCALLS);
	assert(next_states[state[tc]] & BIT(tto));	/* INV1 */
	if
	:: tto == ENTERED ->
		guest_ran[tc] = 1
	:: tto == EXITED ->
		assert(guest_ran[tc] && executed[tc] && result_written[tc]); /* INV2 */
	:: tto == ABORTED ->
		assert(guest_ran[tc] || !executed[tc]);	/* INV4 */
	:: else -> skip
	fi;
	state[tc] = tto
}

/*
 * End call ac ABORTED for reason awhy. The caller decides apoison as the
 * kernel does; should_poison is INV7's definition of the same thing: the
 * call ran and did not end at a DONE boundary (aat_done).
 */
inline abort_call(ac, awhy, apoison, aat_done)
{
	transition(ac, ABORTED);
	reason[ac] = awhy;
	if
	:: (apoison) -> poisoned = 1
	:: else -> skip
	fi;
	if
	:: guest_ran[ac] && !(aat_done) -> should_poison = 1
	:: else -> skip
	fi;
	if
	:: current == ac ->
		current = 0;
		runner = 0
	:: else -> skip
	fi;
	assert(poisoned == should_poison);	/* INV7 */
	assert(!mid_call || poisoned || current != 0)	/* INV7 */
}

/*
 * Cancellation of call kt with reason kwhy, under the lock: CALL_CANCEL,
 * the deadline timer, shutdown. kid is the call it was meant for (a ghost:
 * it only labels the kick). kret: OK if this cancellation won.
 */
inline cancel_locked(kt, kwhy, kid, kret)
{
	if
	:: state[kt] == NONE || TERMINAL(kt) || cancel_reason[kt] != R_NONE ->
		kret = EALREADY
	:: else ->
		cancel_reason[kt] = kwhy;
		if
		:: state[kt] == QUEUED ->
			in_queue[kt] = 0;
			abort_call(kt, kwhy, 0, 0)
		:: state[kt] == ENTERED ->
			assert(current == kt);
			if
			:: runner != 0 && !kick[runner] ->
				kick[runner] = 1;
				kick_for[runner] = kid
			:: else -> skip
			fi
		:: state[kt] == HOSTCALL ->
			assert(current == kt && runner == 0)
		fi;
		kret = OK
	fi
}

/* ioctl(CALLBOX_CALL_CANCEL, iid), under the lock; it: the call it acts on */
inline cancel_ioctl(iid, it, iret)
{
#ifdef BUG_CANCEL_NO_ID
	/* the mutant cancels "whatever is running", like a sandbox-wide kill() */
	if
	:: current != 0 -> it = current
	:: else -> it = iid
	fi;
#else
	it = iid;
#endif
	cancel_locked(it, R_CANCELLED, iid, iret);
	if
	:: iret == OK ->
		cancel_wins[iid]++;
		assert(cancel_wins[iid] == 1)	/* INV5 */
	:: else -> skip
	fi
}

/* INV5, once call qid has ended, for a CALL_CANCEL that returned qret */
inline check_cancel_answer(qid, qret)
{
	assert(TERMINAL(qid));
	if
	:: qret == OK ->
		assert(state[qid] == ABORTED && reason[qid] == R_CANCELLED) /* INV5 */
	:: qret == EALREADY ->
		/* it had ended, or another cancellation won */
		assert(reason[qid] != R_CANCELLED || cancel_wins[qid] == 1) /* INV5 */
	fi
}

/* INV3: what a caller may do with an ended call's outcome */
inline read_outcome(rid)
{
	assert(TERMINAL(rid));
	if
	:: state[rid] == EXITED ->
		/* reads the result from guest memory */
		assert(result_written[rid])	/* INV3 */
	:: state[rid] == ABORTED -> skip	/* must not read a result */
	fi
}

/* ---- the submitter ---- */

bit submitted[NIDS];

inline submit(sid)
{
	atomic {
		if
		:: shutdown -> skip	/* ESHUTDOWN */
		:: else ->
			assert(next_id == sid);
			state[sid] = QUEUED;
			in_queue[sid] = 1;
			next_id++;
			submitted[sid] = 1
			/* the deadline timer is armed: see Timer */
		fi
	}
}

inline handle(hid)
{
	if
	:: !submitted[hid] -> skip
	:: else ->
		if
		:: TERMINAL(hid) -> skip	/* WAIT returned */
		:: true ->		/* WAIT's own timeout fired first */
#ifdef BUG_HYPERLIGHT
			/*
			 * Hyperlight before PR #385: kill, then trust a flag
			 * that only the runner thread sets. If it was never
			 * scheduled, "not running" reads as "finished".
			 */
			atomic { cancel_ioctl(hid, t, ret) }
			if
			:: !us_running[hid] ->
				atomic {
					/* reads the result buffer */
					assert(state[hid] == EXITED &&
					       result_written[hid]) /* INV3 */
				}
			:: else -> skip
			fi;
#else
			atomic { cancel_ioctl(hid, t, ret) }
#endif
			TERMINAL(hid);	/* WAIT without timeout */
			check_cancel_answer(hid, ret)
		fi;
		atomic { read_outcome(hid) }
	fi
}

proctype Submitter()
{
	byte t, ret;

	submit(1);
	if
	:: true -> submit(2); handle(1)	/* both queued, then wait */
	:: true -> handle(1); submit(2)	/* one at a time */
	fi;
	handle(2)
}

/*
 * ---- a runner thread: CALL_RUN in a loop ----
 * RUN waits while another thread runs the current call (the kernel's
 * run_lock); any thread may continue a HOSTCALL or interrupted call.
 */
proctype Runner(byte me)
{
	byte c;
	byte x;
	bit go;

end_idle:
	do
	:: atomic {
		/* RUN without NONBLOCK: wait for something to do */
		runner == 0 &&
		(current != 0 || in_queue[1] || in_queue[2] || poisoned ||
		 shutdown) ->
		c = 0;
		go = 0;
		x = X_NONE;
		assert(!kick[me]);
		if
		:: current != 0 ->
			/* continue the current call */
			c = current;
			if
			:: cancel_reason[c] != R_NONE ->
				/* HOSTCALL, or ENTERED after a signal */
				abort_call(c, cancel_reason[c], 1, 0)
			:: else ->
				if
				:: state[c] == HOSTCALL ->
					transition(c, ENTERED)
				:: else ->
					assert(state[c] == ENTERED)
				fi;
				runner = me;
				go = 1
			fi
		:: else ->
			if
			:: poisoned || shutdown -> skip	/* ENOTRECOVERABLE, ESHUTDOWN */
			:: else ->
				if
				:: in_queue[1] -> c = 1
				:: else -> c = 2
				fi;
				in_queue[c] = 0;
				assert(!mid_call);	/* INV7 */
				transition(c, ENTERED);
				current = c;
				runner = me;
				go = 1
			fi
		fi
	   }
		if
		:: go ->
#ifdef BUG_HYPERLIGHT
			us_running[c] = 1;
#endif
			/* KVM_RUN, outside the lock */
			atomic {
				assert(state[c] == ENTERED && current == c &&
				       runner == me);
				if
				:: kick[me] -> x = X_KICK	/* exits before entry */
				:: else ->
					executed[c] = 1;
					mid_call = 1
				fi
			}
			if
			:: x == X_NONE ->
				/* the guest writes the result: a separate step */
				if
				:: !result_written[c] -> result_written[c] = 1
				:: true -> skip
				fi;
				/* ... and exits, unless a kick came first */
				atomic {
					if
					:: kick[me] -> x = X_KICK
					:: else ->
						if
						:: result_written[c] ->
							x = X_DONE;
							mid_call = 0
						:: !result_written[c] -> x = X_HOSTCALL
						:: !result_written[c] -> x = X_FAULT
						:: true -> x = X_SIGNAL
						fi
					fi
				}
			:: else -> skip
			fi;
			if
			:: x == X_KICK -> assert(kick_for[me] == c)	/* INV6 */
			:: else -> skip
			fi;
			/* decide, under the lock */
			atomic {
				assert(state[c] == ENTERED && current == c &&
				       runner == me);
				if
				:: cancel_reason[c] != R_NONE ->
					abort_call(c, cancel_reason[c],
						   x != X_DONE, x == X_DONE)
				:: else ->
					assert(x != X_KICK);
					if
					:: x == X_DONE ->
						transition(c, EXITED);
						current = 0
					:: x == X_HOSTCALL ->
						transition(c, HOSTCALL)
					:: x == X_FAULT ->
						abort_call(c, R_FAULT, 1, 0)
					:: x == X_SIGNAL -> skip	/* stays ENTERED */
					fi
				fi;
				runner = 0;
				assert(!mid_call || poisoned || current != 0) /* INV7 */
			}
			/* back to userspace: a pending kick is consumed */
			kick[me] = 0;
#ifdef BUG_HYPERLIGHT
			us_running[c] = 0;
#endif
			/* HOSTCALL: the host function runs here; signal: restart */
		:: !go && c == 0 && shutdown ->
			break
		:: !go && c == 0 && !shutdown ->
			/* ENOTRECOVERABLE: restore the guest, SANDBOX_RESET */
			atomic {
				if
				:: current == 0 && !shutdown ->
					poisoned = 0;
					should_poison = 0;
					mid_call = 0
				:: else -> skip	/* EBUSY, ESHUTDOWN */
				fi
			}
		:: !go && c != 0 -> skip	/* the call ended without running */
		fi
	od
}

/* ---- each call's deadline fires at some moment, or never ---- */
proctype Timer()
{
	byte t, ret;
	bit fired[NIDS];

end_timer:
	do
	:: !fired[1] && next_id > 1 ->
		atomic { cancel_locked(1, R_DEADLINE, 1, ret); fired[1] = 1 }
	:: !fired[2] && next_id > 2 ->
		atomic { cancel_locked(2, R_DEADLINE, 2, ret); fired[2] = 1 }
	:: break	/* no (further) deadline */
	od
}

/* ---- the sandbox's creator closes it at some moment, or never ---- */
proctype Closer()
{
	byte t, ret;

	if
	:: atomic {
		shutdown = 1;
		t = 1;
		do
		:: t <= NCALLS ->
			cancel_locked(t, R_CLOSED, t, ret);
			t++
		:: else -> break
		od
	   }
	:: true -> skip
	fi
}

/* ---- a stale CALL_CANCEL of call 1, issued once call 2 exists ---- */
proctype Stray()
{
	byte t, ret;

end_stray:
	if
	:: next_id > 2 ->
		atomic { cancel_ioctl(1, t, ret) }
		TERMINAL(1);
		atomic { check_cancel_answer(1, ret) }
	:: true -> skip
	fi
}

/* ---- once nothing else can move: the end state ---- */
proctype Final()
{
	byte i;

end_final:
	timeout ->
	atomic {
		assert(current == 0 && runner == 0);
		assert(poisoned == should_poison);	/* INV7 */
		assert(!mid_call || poisoned);		/* INV7 */
		i = 1;
		do
		:: i <= NCALLS ->
			assert(!in_queue[i]);
			if
			:: submitted[i] ->
				assert(TERMINAL(i));		/* INV8 */
				assert(reason[i] == R_CANCELLED ==
				       (cancel_wins[i] == 1));	/* INV5 */
				assert(cancel_reason[i] == R_NONE ||
				       reason[i] == cancel_reason[i]); /* INV5 */
				assert(state[i] == ABORTED || reason[i] == R_NONE);
				assert(guest_ran[i] || !executed[i]);	/* INV4 */
			:: else ->
				assert(state[i] == NONE)
			fi;
			i++
		:: else -> break
		od
	}
}

init
{
	atomic {
		init_next_states();
		run Submitter();
		run Runner(1);
#if NRUNNERS > 1
		run Runner(2);
#endif
		run Timer();
		run Closer();
		run Stray();
		run Final()
	}
}
