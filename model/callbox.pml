/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox: Promela model of the call state machine ("DOC: Call states" in
 * uapi/linux/callbox.h), checked exhaustively by spin in tools/model-check.sh.
 *
 * One sandbox, two calls (ids 1 and 2), and these threads:
 *
 *   Submitter  SUBMITs both calls (both first, or one after the other) and
 *              for each one either WAITs, or WAITs with a timeout that may
 *              fire at any moment and then CANCELs and WAITs again;
 *   Runner     loops CALL_RUN. The guest it enters may write the result and
 *              exit DONE, exit HOSTCALL, abort or fault, be interrupted by a
 *              plain signal, or spin (or sleep in HLT) until callbox's kick
 *              forces it out. On ENOTRECOVERABLE it restores the guest and
 *              issues SANDBOX_RESET;
 *   Timer      fires each call's deadline at any moment, or never;
 *   Closer     shuts the sandbox down at any moment, or never;
 *   Stray      cancels call 1 once call 2 exists (a stale cancel), or never;
 *   Final      checks the end state once nothing else can move.
 *
 * Everything the kernel does under the sandbox spinlock is one atomic
 * block, named after its kernel function. The vCPU runs outside the lock,
 * in steps, so that cancellations, deadlines and close interleave with
 * the guest. Left out: CALL_SYNC, RUN of an explicit id, consumption (a
 * consumed call answers CANCEL like an ended one), CALLBOX_MAX_CALLS and
 * release().
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
 *   INV8 no deadlock: every wait returns, except behind a guest that spins
 *        for ever with nothing to stop it; a cancelled, timed-out or closed
 *        guest is always forced out (Final, and spin's invalid end states).
 *
 * Mutants, each expected to fail (see tools/model-check.sh):
 *   -DBUG_HYPERLIGHT   the submitter decides with a userspace "running"
 *                      flag, as Hyperlight did before PR #385;
 *   -DBUG_CANCEL_NO_ID CALL_CANCEL acts on whatever call is current instead
 *                      of the call it names (a stale cancel hits the next).
 *
 * -DNRUNNERS=2 runs two runner threads (run_lock contention, per-thread
 * kicks). It is not part of make check: it takes minutes and gigabytes.
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
#define R_FAULT		1	/* any other abort: guest abort, fault, fatal signal */
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
bit spinning;		/* the guest runs until something forces it out */
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
	:: state[kt] == QUEUED ->
		/* guest code never ran for it and never will */
		in_queue[kt] = 0;
		abort_call(kt, kwhy, 1);
		kret = OK
	:: state[kt] == ENTERED && cancel_reason[kt] == R_NONE ->
		/* it ends as soon as it stops running: kick a runner out */
		assert(current == kt);
		cancel_reason[kt] = kwhy;
		if
		:: runner != 0 && !kick[runner] ->
			kick[runner] = 1;
			kick_for[runner] = kid
		:: else -> skip
		fi;
		kret = OK
	:: state[kt] == HOSTCALL && cancel_reason[kt] == R_NONE ->
		/* it ends when continued: CANCEL_PENDING, EPOLLPRI */
		assert(current == kt && runner == 0);
		cancel_reason[kt] = kwhy;
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

/*
 * WAIT for call hid, then use its outcome. The wait is either without
 * limit, or with a timeout that may fire at any moment (even as the call
 * ends), after which the submitter cancels the call and waits again
 * without limit. A wait may block for ever only behind a guest that
 * legitimately never ends: Final checks that this is the case (INV8).
 */
inline handle(hid)
{
	if
	:: !submitted[hid] -> skip
	:: else ->
		if
		:: true ->			/* WAIT */
end_wait:
			TERMINAL(hid)
		:: true ->			/* WAIT with a timeout */
			if
			:: TERMINAL(hid) -> skip	/* in time */
			:: true ->			/* ETIMEDOUT */
#ifdef BUG_HYPERLIGHT
				/*
				 * Hyperlight before PR #385: kill, then trust
				 * a flag that only the runner thread sets. If
				 * it was never scheduled, "not running" reads
				 * as "finished".
				 */
				atomic { cancel_ioctl(hid, t, ret) }
				if
				:: !us_running[hid] ->
					atomic {
						/* reads the result buffer */
						assert(state[hid] == EXITED && /* INV3 */
						       result_written[hid])
					}
				:: else -> skip
				fi;
#else
				atomic { cancel_ioctl(hid, t, ret) }
#endif
end_wait_cancelled:
				TERMINAL(hid);
				atomic {
					check_cancel_answer(hid, ret);
					t = 0;
					ret = 0
				}
			fi
		fi;
		atomic { read_outcome(hid) }
	fi
}

proctype Submitter()
{
	byte i = 1;
	byte t, ret;
	bit both_first;

	submit(1);
	if
	:: both_first = 1; submit(2)	/* both queued, then wait for each */
	:: both_first = 0		/* one at a time */
	fi;
	do
	:: i <= NCALLS ->
		handle(i);
		if
		:: i == 1 && !both_first -> submit(2)
		:: else -> skip
		fi;
		both_first = 0;
		i++
	:: else -> break
	od
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
		/*
		 * RUN without NONBLOCK, id 0: wait for something to do, then
		 * callbox_sandbox_run_call_locked() picks the call and
		 * callbox_run_enter_locked() enters it
		 */
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
				abort_call(c, cancel_reason[c], 0)
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
			/* KVM_RUN, outside the lock, for as long as it takes */
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
						:: !result_written[c] ->
							/* loops, or HLTs */
							x = X_SPIN;
							spinning = 1
						fi
					fi
				}
				if
				:: x == X_SPIN ->
					/* only callbox's kick gets it out */
end_spin:
					atomic {
						kick[me] ->
						x = X_KICK;
						spinning = 0
					}
				:: else -> skip
				fi
			:: else -> skip
			fi;
			if
			:: x == X_KICK -> assert(kick_for[me] == c)	/* INV6 */
			:: else -> skip
			fi;
			/* callbox_run_exit_locked(): decide, under the lock */
			atomic {
				assert(state[c] == ENTERED && current == c &&
				       runner == me);
				if
				:: cancel_reason[c] != R_NONE ->
					abort_call(c, cancel_reason[c],
						   x == X_DONE)
				:: else ->
					assert(x != X_KICK);
					if
					:: x == X_DONE ->
						transition(c, EXITED);
						current = 0
					:: x == X_HOSTCALL ->
						transition(c, HOSTCALL)
					:: x == X_FAULT ->
						abort_call(c, R_FAULT, 0)
					:: x == X_SIGNAL -> skip	/* stays ENTERED */
					fi
				fi;
				runner = 0;
				assert(!mid_call || poisoned || current != 0); /* INV7 */
				/*
				 * Back to userspace, where a pending kick is
				 * consumed. Done here: once runner != me no one
				 * else touches kick[me].
				 */
				kick[me] = 0;
				kick_for[me] = 0;
#ifdef BUG_HYPERLIGHT
				us_running[c] = 0;
#endif
				c = 0;
				x = X_NONE;
				go = 0
			}
			/*
			 * Userspace: after HOSTCALL the host function runs,
			 * after a signal (ERESTARTNOINTR) the ioctl restarts;
			 * either way the loop's next RUN continues the call.
			 */
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
		:: !go && c != 0 ->	/* the call ended without running */
			c = 0
		fi
	od
}

/* ---- each call's deadline fires at some moment, or never ---- */
proctype Timer()
{
	byte ret;
	bit fired[NIDS];

end_timer:
	do
	:: !fired[1] && next_id > 1 ->
		atomic { cancel_locked(1, R_DEADLINE, 1, ret); fired[1] = 1; ret = 0 }
	:: !fired[2] && next_id > 2 ->
		atomic { cancel_locked(2, R_DEADLINE, 2, ret); fired[2] = 1; ret = 0 }
	:: break	/* no (further) deadline */
	od
}

/*
 * ---- the sandbox's creator closes it at some moment, or never ----
 * callbox_sandbox_shutdown_locked(): QUEUED calls end ABORTED, the current
 * call is cancelled (and kicked if it runs), later SUBMITs fail.
 */
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
		od;
		t = 0;
		ret = 0
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
		atomic { check_cancel_answer(1, ret); t = 0; ret = 0 }
	:: true -> skip
	fi
}

/*
 * ---- once nothing else can move: the end state ----
 * Every call has ended, except behind a guest that spins for ever with no
 * cancellation, deadline or close to stop it (which is allowed).
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
		assert(poisoned == should_poison);	/* INV7 */
		assert(!mid_call || poisoned || stuck);	/* INV7 */
		i = 1;
		do
		:: i <= NCALLS ->
			if
			:: submitted[i] && TERMINAL(i) ->
				assert(!in_queue[i]);
				assert((reason[i] == R_CANCELLED) ==	/* INV5 */
				       (cancel_wins[i] == 1));
				assert(cancel_reason[i] == R_NONE ||	/* INV5 */
				       reason[i] == cancel_reason[i]);
				assert(state[i] == ABORTED || reason[i] == R_NONE);
				assert(guest_ran[i] || !executed[i]);	/* INV4 */
			:: submitted[i] && !TERMINAL(i) ->
				assert(stuck)			/* INV8 */
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
