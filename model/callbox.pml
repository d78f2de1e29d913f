/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox: Promela model of the call state machine ("DOC: Call states" in
 * uapi/linux/callbox.h), checked exhaustively by spin in tools/model-check.sh.
 *
 * One sandbox, two submitted calls (ids 1 and 2), the init call of every
 * SANDBOX_RESET (slot INIT, see below), and these threads:
 *
 *   Submitter  SUBMITs both calls (both first, or one after the other) and
 *              for each one either WAITs, or WAITs with a timeout that may
 *              fire at any moment and then CANCELs and WAITs again;
 *   Runner     loops CALL_RUN. The guest it enters may write the result and
 *              exit DONE, exit HOSTCALL, abort or fault, be interrupted by a
 *              plain signal, or spin (or sleep in HLT) until callbox's kick
 *              forces it out. A call it parks (HOSTCALL, or ENTERED after a
 *              signal) it alone continues, unless it exits for good instead
 *              and leaves the call parked (an orphan). On ENOTRECOVERABLE it
 *              restores the guest and issues SANDBOX_RESET, which queues an
 *              init call ahead of every queued call: no other call enters
 *              until that call EXITs, and any other end of it poisons the
 *              sandbox again;
 *   Timer      fires each armed deadline at some moment: a call gets a
 *              deadline (or none) when it is submitted, an init call from
 *              its RESET, and the timer is disarmed when the call ends;
 *   Closer     shuts the sandbox down at any moment, or never;
 *   Stray      cancels call 1 once call 2 exists (a stale cancel), or
 *              cancels the pending init call at any moment, or never;
 *   Reaper     the kernel's periodic reap work: ends an orphan at any
 *              moment;
 *   Restorer   at some moment, or never, puts the guest back to a snapshot
 *              taken at a call boundary, fenced by SANDBOX_RESTORE: BEGIN
 *              (refused while a call is current or an init call pending),
 *              userspace writes memory and registers, then COMMIT, which
 *              lifts the poison, or ABANDON, which poisons;
 *   Final      checks the end state once nothing else can move.
 *
 * Everything the kernel does under the sandbox spinlock is one atomic
 * block, named after its kernel function. The vCPU runs outside the lock,
 * in steps, so that cancellations, deadlines and close interleave with
 * the guest. Left out: CALL_SYNC, RUN of an explicit id, consumption (a
 * consumed call answers CANCEL like an ended one), CALLBOX_MAX_CALLS and
 * release(). The model starts with a guest that is ready (its first init
 * ran before); only a RESET puts it back at its boot entry.
 *
 * The init call, and the size of the search. Every RESET's init call is a
 * call like the others (cancel, deadline, shutdown, faults, HOSTCALL,
 * signals and its owner's exit all reach it), in one slot, INIT, which
 * each RESET fills with a new call object after checking its predecessor
 * as ended. That is faithful: RESET is refused while an init call is
 * pending, so at most one init call has not ended; nothing in the model
 * aims at an ended init call (Stray and the deadline act only on the
 * pending one); and an id matters only for the queue order, where an init
 * call goes first whatever its id. Resets are not bounded: a guest may
 * fail its init call and be reset again any number of times, and the
 * state space stays finite. The cost is that a third call now runs, with
 * everything interleaving; with the old step granularity that was about
 * 69 million states (over the 4 GB limit). So steps that no other thread
 * can observe are folded into a neighbouring atomic step: reading an ended
 * call (nothing in it changes any more) and a thread's own bookkeeping; a
 * timer's decision to fire (whether a call has a deadline is chosen when
 * it is submitted, and the deadline fires in one step; a timed WAIT whose
 * timeout does not fire is a plain WAIT); a RUN that fails with
 * ENOTRECOVERABLE (it changes nothing) with the RESET after it; and a
 * kicked spinning guest's exit with callbox_run_exit_locked() (its
 * cancellation has won, so nothing can change the call in between). Every
 * interleaving of kernel steps is still explored: about 0.85 million
 * states in all, where the old model had 5.7 million without init calls.
 *
 * Ownership: the Runner that enters a call owns it (owner[]); a parked
 * call is continued only by its owner (RUN after a HOSTCALL, the
 * restarted ioctl after a signal). The owner's exit is a choice of the
 * Runner while its call is parked: the process ends for good. The orphan
 * ends when anything looks at it: every cancellation path, RESET, RUN (of
 * the other thread, with NRUNNERS=2) and the reap work reap it first
 * (ABORTED, with the reason of a cancellation that had won, else
 * OWNER_EXITED; a canceller that reaps gets EALREADY). Calls still QUEUED
 * when no runner thread is left are stranded, which INV8 allows.
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
 *   INV7 a call that ended ABORTED after running and not at a DONE
 *        boundary poisons the sandbox until the next RESET, and poison has
 *        no other cause than that or an init call that did not EXIT; the
 *        guest is never entered for a new call in the middle of an old one;
 *   INV8 no deadlock: every wait returns, except behind a guest that spins
 *        for ever with nothing to stop it, or on a call still QUEUED when
 *        no runner thread is left; a cancelled, timed-out or closed guest
 *        is always forced out, and an orphan is always reaped (Final, and
 *        spin's invalid end states);
 *   INV9 a call never enters a guest that is not ready: from a RESET until
 *        an init call has run to DONE the guest is at its boot entry
 *        (ghost not_ready), and no call but the init call is entered, or
 *        ends EXITED, then;
 *   INV10 a parked call is continued only by its owner; a call whose owner
 *        exited while it was parked ends ABORTED, with the reason of the
 *        cancellation that had won, else OWNER_EXITED, and only such a
 *        call ends OWNER_EXITED;
 *   INV11 no call enters a guest that userspace is putting back to a
 *        snapshot (ghost half_restored, from BEGIN until the guest is
 *        whole again), and a restore begins only when no call is current.
 *
 * Mutants, each expected to fail (see tools/model-check.sh):
 *   -DBUG_HYPERLIGHT   the submitter decides with a userspace "running"
 *                      flag, as Hyperlight did before PR #385;
 *   -DBUG_CANCEL_NO_ID CALL_CANCEL acts on whatever call is current instead
 *                      of the call it names (a stale cancel hits the next);
 *   -DBUG_RESET_UNPOISONS
 *                      RESET's lifting of the poison is final, as before
 *                      the fix in callbox_call_end_init_locked(): an init
 *                      call that ends without EXITing (cancelled, timed
 *                      out or closed while QUEUED) leaves the sandbox
 *                      unpoisoned, and the next call runs the boot code
 *                      (INV9);
 *   -DBUG_RESTORE_NO_FENCE
 *                      RUN does not look at sb->restoring: a call enters
 *                      the guest while userspace is still putting it back
 *                      (INV11).
 *
 * -DNRUNNERS=2 runs two runner threads (run_lock contention, per-thread
 * kicks, a parked call that only its owner may continue, an orphan reaped
 * by the other thread's RUN). It is not part of make check: about 12
 * million states, 40 s and 1.7 GB (build pan with -DMEMLIM=16000).
 */

#define NCALLS		2	/* submitted call ids are 1..NCALLS */
#define INIT		(NCALLS + 1)	/* the slot of the pending init call */
#define NIDS		(NCALLS + 2)	/* arrays are indexed by id; 0: none */
#ifndef NRUNNERS
#define NRUNNERS	1	/* runner threads, 1 or 2 */
#endif
#define NTHREADS	(NRUNNERS + 1)	/* indexed by runner thread; 0: none */
#if NRUNNERS > 1
#define NO_RUNNER_LEFT	(exited[1] && exited[2])
#else
#define NO_RUNNER_LEFT	(exited[1])
#endif

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
#define R_FAULT		1	/* any other abort: guest abort, fault, fatal signal */
#define R_CANCELLED	11
#define R_DEADLINE	12
#define R_CLOSED	13
#define R_OWNER_EXITED	14

/* ioctl results */
#define OK		0
#define EALREADY	114

/* how one KVM_RUN ended */
#define X_NONE		0	/* not entered (yet) */
#define X_DONE		1	/* OUT to CALLBOX_PORT_DONE */
#define X_HOSTCALL	2	/* OUT to CALLBOX_PORT_HOSTCALL */
#define X_FAULT		3	/* ABORT port, bad port, MMIO, triple fault, fatal */
				/* signal, KVM_RUN failure: the call ends ABORTED */
#define X_SIGNAL	4	/* -EINTR: a signal, no cancellation */
#define X_KICK		5	/* -EINTR: callbox's own kick */
#define X_SPIN		6	/* none yet: the guest spins or sleeps in HLT */

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
bit in_queue[NIDS];	/* the queue of QUEUED calls: a pending init call */
			/* first, then the lowest id (ids increase) */
byte current;		/* the ENTERED or HOSTCALL call, 0 if none */
byte runner;		/* the thread in the vCPU run loop for current, or 0: */
			/* a current call with no runner is parked */
bit kick[NTHREADS];	/* per runner thread: a kick is pending */
bit init_pending;	/* sb->init_call: the INIT slot holds a call that */
			/* has not ended */
bit poisoned;
bit restoring;		/* sb->restoring: BEGIN, and no COMMIT or ABANDON yet */
bit shutdown;

/* ---- the calls (guarded by the spinlock) ---- */
byte state[NIDS];
byte reason[NIDS];
bit guest_ran[NIDS];	/* CALLBOX_CALL_GUEST_RAN */
byte cancel_reason[NIDS];	/* the cancellation that won, 0 if none */
byte owner[NIDS];	/* the runner thread that entered it, 0 if none */
bit armed[NIDS];	/* the call's deadline timer is armed: it has a */
			/* deadline, not yet passed, and it has not ended */

/* ---- the threads, as the kernel sees them ---- */
bit exited[NTHREADS];	/* the runner thread has exited (PF_EXITING) */

/* ---- ghosts: what really happened, never read by the algorithm ---- */
bit executed[NIDS];	/* guest code ran for this call */
bit result_written[NIDS];	/* the guest wrote this call's result */
byte cancel_wins[NIDS];	/* CALL_CANCELs on this call that returned 0 */
byte kick_for[NTHREADS];	/* the call each pending kick was sent for */
bit orphaned[NIDS];	/* its owner exited while it was parked */
bit mid_call;		/* the guest stopped inside a call, not at a DONE */
bit not_ready;		/* the guest is at its boot entry: RESET put it */
			/* there and no init call has run to DONE since */
bit spinning;		/* the guest runs until something forces it out */
bit should_poison;	/* a call aborted after running, not at a DONE */
bit half_restored;	/* userspace is writing the guest back to a snapshot */
bit abandoned;		/* a restore was abandoned: the guest is half written */
#ifdef BUG_HYPERLIGHT
bit us_running[NIDS];	/* userspace flag, set by the runner thread */
#endif

/* scratch for one atomic block, never carried from one state to the next */
hidden byte tmp_c;
hidden byte tmp_r;

/*
 * Every state change goes through here, as in the kernel's
 * callbox_call_transition_locked(): the edge must be in next_states[].
 * The end of an init call decides whether the guest may be used, as in
 * callbox_call_end_init_locked(): unless it EXITED, the sandbox is
 * poisoned.
 */
inline transition(tc, tto)
{
	assert(tc >= 1 && tc <= INIT);
	assert(next_states[state[tc]] & BIT(tto));	/* INV1 */
	if
	:: tto == ENTERED ->
		guest_ran[tc] = 1
	:: tto == EXITED ->
		assert(guest_ran[tc] && executed[tc] && result_written[tc]); /* INV2 */
		assert(tc == INIT || !not_ready)	/* INV9 */
	:: tto == ABORTED ->
		assert(guest_ran[tc] || !executed[tc]);	/* INV4 */
	:: else -> skip
	fi;
	state[tc] = tto;
	if
	:: TERMINAL(tc) ->
		armed[tc] = 0;	/* hrtimer_try_to_cancel() */
		if
		:: tc == INIT ->
			assert(init_pending);
			init_pending = 0;
#ifndef BUG_RESET_UNPOISONS
			if
			:: tto != EXITED -> poisoned = 1
			:: else -> skip
			fi
#endif
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/*
 * End call ac ABORTED for reason awhy, as callbox_call_abort_locked():
 * the sandbox is poisoned if the call was running (ENTERED or HOSTCALL)
 * and did not stop cleanly (aclean: a DONE at the call boundary).
 * should_poison is INV7's definition of the same thing, from the ghosts:
 * guest code ran for the call and it did not end at a DONE.
 */
inline abort_call(ac, awhy, aclean)
{
	if
	:: (state[ac] == ENTERED || state[ac] == HOSTCALL) && !(aclean) ->
		poisoned = 1
	:: else -> skip
	fi;
	if
	:: guest_ran[ac] && !(aclean) -> should_poison = 1
	:: else -> skip
	fi;
	transition(ac, ABORTED);
	reason[ac] = awhy;
	assert(reason[ac] != R_OWNER_EXITED || orphaned[ac]);	/* INV10 */
	if
	:: current == ac ->
		current = 0;
		runner = 0
	:: else -> skip
	fi;
	assert(!should_poison || poisoned);	/* INV7 */
	assert(!poisoned || should_poison || abandoned ||	/* INV7 */
	       state[INIT] == ABORTED);
	assert(!mid_call || poisoned || current != 0)	/* INV7 */
}

/*
 * callbox_call_reap_locked(): call rc is parked and its owner has exited,
 * so nothing can continue it: it ends now, with the reason of a
 * cancellation that had won, else OWNER_EXITED.
 */
inline reap_call(rc)
{
	assert(rc == current && runner == 0 && exited[owner[rc]]);
	assert(orphaned[rc]);				/* INV10 */
	tmp_r = (cancel_reason[rc] != R_NONE -> cancel_reason[rc] :
						R_OWNER_EXITED);
	abort_call(rc, tmp_r, 0);
	tmp_r = 0
}

/* callbox_sandbox_reap_locked(): reap the current call if it is an orphan */
inline reap_locked()
{
	if
	:: current != 0 && runner == 0 && exited[owner[current]] ->
		tmp_c = current;
		reap_call(tmp_c);
		tmp_c = 0
	:: else -> skip
	fi
}

/*
 * callbox_call_cancel_locked(): cancellation of call kt with reason kwhy,
 * under the lock, for CALL_CANCEL, the deadline timer and shutdown. The
 * first to set cancel_reason wins. kid is the call the cancellation was
 * meant for (a ghost: it only labels the kick). kret: OK if it won.
 */
inline cancel_locked(kt, kwhy, kid, kret)
{
	if
	:: state[kt] == NONE || TERMINAL(kt) || cancel_reason[kt] != R_NONE ->
		kret = EALREADY
	:: else ->
		if
		:: kt == current && runner == 0 && exited[owner[kt]] ->
			/* parked, and its owner gone: it is over already */
			reap_call(kt);
			kret = EALREADY
		:: else ->
			if
			:: state[kt] == QUEUED ->
				/* guest code never ran for it and never will */
				in_queue[kt] = 0;
				abort_call(kt, kwhy, 1)
			:: else ->
				/* ENTERED or HOSTCALL, so the current call */
				assert(current == kt);
				cancel_reason[kt] = kwhy;
				if
				:: runner != 0 ->
					/* it ends as soon as it stops running */
					if
					:: !kick[runner] ->
						kick[runner] = 1;
						kick_for[runner] = kid
					:: else -> skip
					fi
				:: runner == 0 && state[kt] == ENTERED ->
					/* parked after a signal, stopped
					 * mid-guest: it ends now */
					abort_call(kt, kwhy, 0)
				:: runner == 0 && state[kt] == HOSTCALL ->
					/* it ends when continued:
					 * CANCEL_PENDING, EPOLLPRI */
					skip
				fi
			fi;
			kret = OK
		fi
	fi
}

/* ioctl(CALLBOX_CALL_CANCEL, iid), under the lock; it: the call it acts on */
inline cancel_ioctl(iid, it, iret)
{
	reap_locked();
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
		/* it had ended, or another cancellation won, or it was reaped */
		assert(reason[qid] != R_CANCELLED || cancel_wins[qid] == 1) /* INV5 */
	fi
}

/* What must hold of call ei once it has ended (Final, and RESET for INIT) */
inline check_ended(ei)
{
	assert(!in_queue[ei]);
	assert((reason[ei] == R_CANCELLED) == (cancel_wins[ei] == 1)); /* INV5 */
	assert(cancel_reason[ei] == R_NONE ||			/* INV5 */
	       reason[ei] == cancel_reason[ei]);
	assert(state[ei] == ABORTED || reason[ei] == R_NONE);
	assert(guest_ran[ei] || !executed[ei]);			/* INV4 */
	assert(!orphaned[ei] || state[ei] == ABORTED)		/* INV10 */
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

/*
 * SANDBOX_RESET, after userspace put the guest back at its entry point:
 * it lifts the poison and queues a new init call (in the INIT slot, see
 * the top) ahead of every queued call, with a deadline or none.
 */
inline reset_locked()
{
	reap_locked();
	if
	:: current == 0 && !init_pending && !restoring && !shutdown ->
		if
		:: state[INIT] != NONE ->
			check_ended(INIT)	/* the previous init call */
		:: else -> skip
		fi;
		poisoned = 0;
		should_poison = 0;
		abandoned = 0;
		mid_call = 0;
		not_ready = 1;
		state[INIT] = QUEUED;
		reason[INIT] = R_NONE;
		guest_ran[INIT] = 0;
		cancel_reason[INIT] = R_NONE;
		owner[INIT] = 0;
		executed[INIT] = 0;
		result_written[INIT] = 0;
		cancel_wins[INIT] = 0;
		orphaned[INIT] = 0;
		in_queue[INIT] = 1;
		init_pending = 1;
		if
		:: armed[INIT] = 1	/* a deadline: see Timer */
		:: skip			/* none */
		fi
	:: else -> skip	/* EBUSY, ESHUTDOWN */
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
			submitted[sid] = 1;
			if
			:: armed[sid] = 1	/* a deadline: see Timer */
			:: skip			/* none */
			fi
		fi
	}
}

/*
 * The submitter has the outcome of call hid: it uses it, and, one call at
 * a time, submits call 2 once call 1 is over; then on to the next call.
 * Reading an ended call is not a step of its own (nothing it reads
 * changes any more).
 */
inline handled(hid)
{
	read_outcome(hid);
	if
	:: hid == 1 && next_id == 2 -> submit(2)
	:: else -> skip
	fi;
	hid++
}

/*
 * For each call in turn: WAIT for it, then use its outcome. The wait is
 * either without limit, or with a timeout that fires at some moment (even
 * as the call ends; a timeout that does not fire is a WAIT without
 * limit), after which the submitter cancels the call and waits again
 * without limit. A wait may block for ever only behind a guest that
 * legitimately never ends, or on a call that no thread is left to run:
 * Final checks that this is the case (INV8).
 */
proctype Submitter()
{
	byte i = 1;
	byte t, ret;

	submit(1);
	if
	:: submit(2)	/* both queued, then wait for each */
	:: skip		/* one at a time */
	fi;
	do
	:: atomic { i <= NCALLS && !submitted[i] -> i++ }	/* ESHUTDOWN */
	:: i <= NCALLS && submitted[i] ->		/* WAIT */
end_wait:
		atomic { TERMINAL(i) -> handled(i) }
	:: i <= NCALLS && submitted[i] ->		/* WAIT with a timeout */
#ifdef BUG_HYPERLIGHT
		/*
		 * Hyperlight before PR #385: kill, then trust a flag that
		 * only the runner thread sets. If it was never scheduled,
		 * "not running" reads as "finished".
		 */
		atomic { cancel_ioctl(i, t, ret) }
		if
		:: !us_running[i] ->
			atomic {
				/* reads the result buffer */
				assert(state[i] == EXITED &&	/* INV3 */
				       result_written[i])
			}
		:: else -> skip
		fi;
#else
		atomic { cancel_ioctl(i, t, ret) }	/* ETIMEDOUT */
#endif
end_wait_cancelled:
		atomic {
			TERMINAL(i) ->
			check_cancel_answer(i, ret);
			t = 0;
			ret = 0;
			handled(i)
		}
	:: i > NCALLS -> break
	od
}

/*
 * ---- a runner thread: CALL_RUN in a loop ----
 * RUN waits while another thread runs the current call (the kernel's
 * run_lock), or while another thread's call is parked (EBUSY, retried).
 * A parked call is continued only by its owner, the thread that entered
 * it: RUN after a HOSTCALL, the restarted ioctl after a signal.
 */
proctype Runner(byte me)
{
	byte c;
	byte x;
	bit go;

end_idle:
	do
	:: atomic {
		/*
		 * RUN without NONBLOCK, id 0: wait for something to do, then
		 * callbox_call_run_choose_locked() picks the call (reaping an
		 * orphan first) and callbox_run_enter_locked() enters it
		 */
		runner == 0 &&
		(current != 0 && (owner[current] == me ||
				  exited[owner[current]]) ||
		 current == 0 && (in_queue[INIT] || in_queue[1] ||
				  in_queue[2] || poisoned || shutdown) &&
#ifndef BUG_RESTORE_NO_FENCE
				  /* EBUSY while restoring: RUN again after */
				  (!restoring || shutdown)
#else
				  true
#endif
		) ->
		assert(!kick[me] && !go && c == 0 && x == X_NONE);
		reap_locked();
		if
		:: current != 0 ->
			/* continue the call this thread parked */
			c = current;
			assert(owner[c] == me);		/* INV10 */
			if
			:: cancel_reason[c] != R_NONE ->
				/* HOSTCALL: a parked ENTERED call ended at once */
				assert(state[c] == HOSTCALL);
				abort_call(c, cancel_reason[c], 0);
				c = 0
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
			assert(!(poisoned && init_pending));
			if
			:: shutdown ->
				break		/* ESHUTDOWN */
			:: !shutdown && poisoned ->
				/*
				 * ENOTRECOVERABLE: userspace restores the guest
				 * and issues SANDBOX_RESET (one step: the failed
				 * RUN changed nothing)
				 */
				reset_locked()
			:: else ->
				/* the head of the queue: a pending init call */
				if
				:: in_queue[INIT] -> c = INIT
				:: !in_queue[INIT] && in_queue[1] -> c = 1
				:: else -> c = 2
				fi;
				assert(in_queue[c]);
				assert(!init_pending || c == INIT);
				in_queue[c] = 0;
				assert(!mid_call);		/* INV7 */
				assert(c == INIT || !not_ready);	/* INV9 */
				assert(!half_restored);		/* INV11 */
				transition(c, ENTERED);
				owner[c] = me;
				current = c;
				runner = me;
				go = 1
			fi
		fi
	   }
	:: atomic {
		/* KVM_RUN, outside the lock, for as long as it takes */
		go ->
#ifdef BUG_HYPERLIGHT
		us_running[c] = 1;
#endif
		assert(state[c] == ENTERED && current == c && runner == me);
		if
		:: kick[me] -> x = X_KICK	/* exits before entry */
		:: else ->
			executed[c] = 1;
			mid_call = 1
		fi
	   }
end_spin:
		do
		:: atomic {
			/* the guest writes the result: a separate step */
			x == X_NONE && !result_written[c] ->
			result_written[c] = 1
		   }
		:: atomic {
			/* ... and exits, unless a kick came first */
			x == X_NONE ->
			if
			:: kick[me] -> x = X_KICK
			:: else ->
				if
				:: result_written[c] ->
					x = X_DONE;
					mid_call = 0;
					if
					:: c == INIT ->
						not_ready = 0	/* the guest is ready */
					:: else -> skip
					fi
				:: !result_written[c] -> x = X_HOSTCALL
				:: !result_written[c] -> x = X_FAULT
				:: true -> x = X_SIGNAL
				:: !result_written[c] ->
					/* loops, or HLTs: only a kick gets it out */
					x = X_SPIN;
					spinning = 1
				fi
			fi
		   }
		:: atomic {
			/*
			 * callbox_run_exit_locked(): decide, under the lock.
			 * A spinning guest gets here only when kicked (its
			 * -EINTR and the lock are one step: nothing can
			 * change the call in between, its cancellation has
			 * won already).
			 */
			x != X_NONE && (x != X_SPIN || kick[me]) ->
			if
			:: x == X_SPIN ->
				x = X_KICK;
				spinning = 0
			:: else -> skip
			fi;
			assert(x != X_KICK || kick_for[me] == c);	/* INV6 */
			assert(state[c] == ENTERED && current == c &&
			       runner == me);
			if
			:: cancel_reason[c] != R_NONE ->
				abort_call(c, cancel_reason[c], x == X_DONE)
			:: else ->
				assert(x != X_KICK);
				if
				:: x == X_DONE ->
					transition(c, EXITED);
					current = 0
				:: x == X_HOSTCALL ->
					transition(c, HOSTCALL)	/* parked */
				:: x == X_FAULT ->
					abort_call(c, R_FAULT, 0)
				:: x == X_SIGNAL -> skip	/* parked, ENTERED */
				fi
			fi;
			runner = 0;
			assert(!mid_call || poisoned || current != 0); /* INV7 */
			/*
			 * Back to userspace, where a pending kick is
			 * consumed. Done here: once runner != me no one else
			 * touches kick[me].
			 */
			kick[me] = 0;
			kick_for[me] = 0;
#ifdef BUG_HYPERLIGHT
			us_running[c] = 0;
#endif
			c = 0;
			x = X_NONE;
			go = 0;
			break
		   }
		od
		/*
		 * Userspace: after HOSTCALL the host function runs, after a
		 * signal (ERESTARTNOINTR) the ioctl restarts; either way the
		 * loop's next RUN continues the call, unless the thread exits
		 * first (below).
		 */
	:: atomic {
		/*
		 * The owner of a parked call exits (say it left a signal
		 * handler by longjmp(), or its host function failed, and
		 * then the thread ended): the call is an orphan
		 */
		current != 0 && runner == 0 && owner[current] == me ->
		orphaned[current] = 1;
		exited[me] = 1;
		break
	   }
	od
}

/*
 * ---- each armed deadline fires at some moment ----
 * A call's deadline (or none) is chosen when it is submitted, an init
 * call's by its RESET; the timer is disarmed when the call ends.
 */
proctype Timer()
{
	byte t, ret;

end_timer:
	do
	:: atomic {
		armed[1] || armed[2] || armed[INIT] ->
		if
		:: armed[1] -> t = 1
		:: armed[2] -> t = 2
		:: armed[INIT] -> t = INIT
		fi;
		cancel_locked(t, R_DEADLINE, t, ret);
		armed[t] = 0;
		t = 0;
		ret = 0
	   }
	od
}

/*
 * ---- the sandbox's creator shuts it down at some moment, or never ----
 * callbox_sandbox_shutdown_locked(): QUEUED calls end ABORTED, the current
 * call is cancelled (and kicked if it runs), a parked one ends at once,
 * later SUBMITs fail.
 */
proctype Closer()
{
	byte t, ret;

	if
	:: atomic {
		shutdown = 1;
		restoring = 0;	/* and nothing enters any more */
		/* the queue, in order: a pending init call first */
		t = INIT;
		do
		:: t >= 1 ->
			if
			:: in_queue[t] -> cancel_locked(t, R_CLOSED, t, ret)
			:: else -> skip
			fi;
			t = (t == INIT -> 1 : (t == NCALLS -> 0 : t + 1))
		:: else -> break
		od;
		t = current;
		if
		:: t != 0 ->
			cancel_locked(t, R_CLOSED, t, ret);
			if
			:: runner == 0 && !TERMINAL(t) ->
				/* a host function still runs for it */
				abort_call(t, cancel_reason[t], 0)
			:: else -> skip
			fi
		:: else -> skip
		fi;
		t = 0;
		ret = 0
	   }
	:: true -> skip
	fi
}

/*
 * ---- a stale CALL_CANCEL of call 1, issued once call 2 exists; or a
 * CALL_CANCEL of the pending init call, at any moment ----
 */
proctype Stray()
{
	byte t, ret;

end_stray:
	if
	:: atomic { next_id > 2 -> cancel_ioctl(1, t, ret) }
		atomic {
			TERMINAL(1) ->
			check_cancel_answer(1, ret);
			t = 0;
			ret = 0
		}
	:: atomic {
		init_pending ->
		/*
		 * its answer is checked when it has ended (check_ended):
		 * its slot may be reused before this thread could look
		 */
		cancel_ioctl(INIT, t, ret);
		t = 0;
		ret = 0
	   }
	:: skip
	fi
}

/*
 * ---- the reap work: while a call is parked, it checks now and then
 * whether its owner still lives ----
 */
proctype Reaper()
{
end_reaper:
	do
	:: atomic {
		current != 0 && runner == 0 && exited[owner[current]] ->
		reap_locked()
	   }
	od
}

/*
 * ---- userspace restores the guest to a snapshot, at some moment ----
 * BEGIN takes run_lock and decides under the lock, as RESET does; COMMIT
 * and ABANDON only take the lock. Userspace's writes to guest memory and
 * registers are one step of their own between them, which everything else
 * may interleave with.
 */
proctype Restorer()
{
end_restorer:
	if
	:: atomic {
		/* callbox_sandbox_may_reset_locked(), after a reap */
		runner == 0 && (current == 0 || exited[owner[current]]) &&
		!init_pending && !restoring && !shutdown ->
		reap_locked();
		assert(current == 0);			/* INV11 */
		restoring = 1;
		half_restored = 1
	   }
		/* memory and registers back as at the snapshot */
		atomic {
			half_restored = 0;
			mid_call = 0;
			not_ready = 0
		}
		atomic {
			if
			:: shutdown -> skip	/* ESHUTDOWN: it ended there */
			:: !shutdown ->
				assert(restoring);
				restoring = 0;
				/* COMMIT: the guest is whole, lift the poison */
				poisoned = 0;
				should_poison = 0;
				abandoned = 0
			:: !shutdown ->
				assert(restoring);
				restoring = 0;
				/* ABANDON: whatever it was, it is poisoned now */
				poisoned = 1;
				abandoned = 1
			fi
		}
	:: skip
	fi
}

/*
 * ---- once nothing else can move: the end state ----
 * Every call has ended, except behind a guest that spins for ever with no
 * cancellation, deadline or close to stop it, or a call still QUEUED when
 * no runner thread is left (both allowed).
 */
proctype Final()
{
	byte i;
	bit stuck;

end_final:
	timeout ->
	atomic {
		stuck = spinning && cancel_reason[current] == R_NONE;
		assert(!spinning || stuck);		/* INV8 */
		assert(stuck || current == 0 && runner == 0);	/* INV8 */
		assert(!should_poison || poisoned);	/* INV7 */
		assert(!poisoned || should_poison ||	/* INV7 */
		       abandoned || state[INIT] == ABORTED);
		assert(!half_restored && !restoring);	/* INV11 */
		assert(!mid_call || poisoned || stuck);	/* INV7 */
		i = 1;
		do
		:: i <= INIT ->
			if
			:: TERMINAL(i) ->
				assert(i == INIT || submitted[i]);
				check_ended(i)
			:: state[i] != NONE && !TERMINAL(i) ->
				assert(stuck ||			/* INV8 */
				       NO_RUNNER_LEFT && state[i] == QUEUED)
			:: else ->
				assert(state[i] == NONE && !in_queue[i])
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
		run Reaper();
		run Restorer();
		run Final()
	}
}
