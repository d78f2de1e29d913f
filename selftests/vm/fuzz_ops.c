// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: the random fields, and each operation of a slot sequence but
 * BATCH: SYNC, SUBMIT, RUN, WAIT, GET, CANCEL, RESET, RESTORE, SHUTDOWN,
 * poll and epoll.
 */
#include "ioctl_fuzz.h"

/* ---- random fields ---- */

uint64_t rand_deadline(struct thr *t, bool bounded)
{
	uint64_t now = now_ns();

	if (bounded) {
		switch (rnd(t, 4)) {
		case 0:
			return 1;
		case 1:
			return now - rnd(t, MS);
		default:
			return now + rnd(t, BOUNDED_NS);
		}
	}
	switch (rnd(t, 10)) {
	case 0:
	case 1:
	case 2:
		return 0;
	case 3:
		return 1;
	case 4:
		return now + rnd(t, 2 * MS);
	case 5:
	case 6:
		return now + rnd(t, 200 * MS);
	case 7:
		return now + 3600 * SEC;
	case 8:
		return INT64_MAX;
	default:
		return chance(t, 50) ? UINT64_MAX :
			(uint64_t)INT64_MAX + 1 + rnd(t, 1000);
	}
}

uint64_t pick_id(struct thr *t, const struct target *tg)
{
	unsigned int r = rnd(t, 100);

	if (r < 12)
		return 0;
	if (r < 22)
		return 1 + rnd(t, 4);
	if (r < 75)
		return ring_pick(t, tg->ring);
	if (r < 85)
		return ring_pick(t, tg->ring) + (chance(t, 50) ? 1 : -1);
	if (r < 90)
		return UINT64_MAX;
	if (r < 95)
		return 1ull << 63;
	return ring_last(tg->ring) + 1000;
}

/* @out on input: zero (a new call), garbage, or naming a call. */
void rand_out(struct thr *t, const struct target *tg,
	      struct callbox_call_info *out)
{
	unsigned int r = rnd(t, 100);

	memset(out, 0, sizeof(*out));
	if (r < 85)
		return;
	if (r < 93) {
		out->id = chance(t, 50) ? rnd64(t) : pick_id(t, tg);
		out->state = rnd(t, 8);
		out->reason = rnd64(t);
		out->flags = rnd64(t);
		out->status = rnd64(t);
		return;
	}
	out->id = pick_id(t, tg);
	out->state = CALLBOX_STATE_ENTERED;
}

void set_behaviour(struct thr *t, const struct target *tg)
{
	static const uint8_t pick[] = {
		SCRIPT_DONE, SCRIPT_DONE, SCRIPT_DONE, SCRIPT_DONE,
		SCRIPT_DONE, SCRIPT_DONE, SCRIPT_DONE, SCRIPT_HOSTCALL,
		SCRIPT_HOSTCALL, SCRIPT_MULTI, SCRIPT_SPIN, SCRIPT_SPIN,
		SCRIPT_HALT, SCRIPT_ABORT, SCRIPT_BAD_PORT, SCRIPT_DONE,
	};

	if (tg->gb)
		script_set(tg->gb->g.mem, pick[rnd(t, sizeof(pick))]);
}

/* ---- the operations ---- */

/*
 * After a SYNC or RUN (@r): check a returned outcome, continue a host
 * call or an interrupted call, or leave them.
 */
static void after_run(struct thr *t, const struct target *tg, struct req *r)
{
	struct callbox_call_info *out = r->cmd == C_SYNC ? &r->img.sync.out :
							   &r->img.run.out;
	bool was_restart = looks_restart(r->cmd == C_SYNC ?
					 &r->sent.sync.out : &r->sent.run.out);

	if (!r->wellformed)
		return;
	if (r->ret == -EINTR && looks_restart(out) && t->depth < 4 &&
	    chance(t, 70)) {
		/* Interrupted (immediate_exit): continue as the ABI says. */
		struct req c;

		req_init(&c, r->cmd);
		c.img = r->img;
		c.rt_mask = r->rt_mask | EB(ENOENT) | EB(ESRCH);
		c.timeout_ns = r->timeout_ns;
		t->depth++;
		issue(t, tg, &c);
		after_run(t, tg, &c);
		t->depth--;
		return;
	}
	if (r->ret)
		return;
	check_info(t, tg, cmds[r->cmd].name, out,
		   r->cmd == C_RUN && r->img.run.id ? r->img.run.id : 0,
		   W_RUNRET);
	ring_add(tg->ring, out->id);
	if (r->cmd == C_SYNC && !was_restart) {
		uint64_t dl = r->sent.sync.deadline_ns;

		if (!dl && out->reason == CALLBOX_ABORT_DEADLINE)
			report(t, &g_unexpected,
			       "CALL_SYNC on %s without a deadline ended DEADLINE (id %" PRIu64 ")",
			       tg->name, (uint64_t)out->id);
		if (dl == 1 &&
		    (out->state != CALLBOX_STATE_ABORTED ||
		     out->reason != CALLBOX_ABORT_DEADLINE ||
		     (out->flags & CALLBOX_CALL_GUEST_RAN)))
			report(t, &g_unexpected,
			       "CALL_SYNC on %s with a past deadline: state %u reason %u flags 0x%x (id %" PRIu64 ")",
			       tg->name, out->state, out->reason, out->flags,
			       (uint64_t)out->id);
	}
	if (out->state == CALLBOX_STATE_HOSTCALL && t->depth < 5) {
		uint64_t id = out->id;

		t->depth++;
		if (chance(t, 75))
			op_run_id(t, tg, chance(t, 50) ? id : 0, 0, 0);
		else if (chance(t, 50))
			op_wait_id(t, tg, id, tg->bounded ?
				   now_ns() + rnd(t, BOUNDED_NS) :
				   rand_deadline(t, false), 0);
		t->depth--;
		return;
	}
	/* Consume what ended, now and then. */
	if ((out->state == CALLBOX_STATE_EXITED ||
	     out->state == CALLBOX_STATE_ABORTED) && r->cmd == C_RUN &&
	    chance(t, 60) && t->depth < 5) {
		t->depth++;
		op_wait_id(t, tg, out->id, now_ns() + rnd(t, BOUNDED_NS), 0);
		t->depth--;
	}
}

void op_sync(struct thr *t, const struct target *tg,
	     unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_SYNC);
	r.abi_pct = abi_pct;
	r.img.sync.deadline_ns = rand_deadline(t, tg->bounded);
	rand_out(t, tg, &r.img.sync.out);
	r.rt_mask = EB(ENOTRECOVERABLE) | EB(EBUSY) | EB(EINTR) | EB(EAGAIN) |
		    EB(ESHUTDOWN) | EB(ESRCH);
	if (looks_restart(&r.img.sync.out))
		r.rt_mask |= EB(ENOENT);
	issue(t, tg, &r);
	after_run(t, tg, &r);
}

static void op_submit(struct thr *t, const struct target *tg,
		      unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_SUBMIT);
	r.abi_pct = abi_pct;
	r.img.submit.deadline_ns = rand_deadline(t, tg->bounded);
	r.rt_mask = EB(EAGAIN) | EB(ESHUTDOWN);
	if (!issue(t, tg, &r) && r.wellformed)
		note_new_id(t, tg, "CALL_SUBMIT", r.img.submit.out_id);
}

static void op_burst(struct thr *t, const struct target *tg)
{
	int i, n = 1 + rnd(t, 70);

	for (i = 0; i < n && !atomic_load(&g_stop); i++) {
		struct req r;

		req_init(&r, C_SUBMIT);
		r.img.submit.deadline_ns = rand_deadline(t, tg->bounded);
		if (r.img.submit.deadline_ns > INT64_MAX)
			r.img.submit.deadline_ns = 0;
		if (tg->bounded && !r.img.submit.deadline_ns)
			r.img.submit.deadline_ns = 1;
		r.rt_mask = EB(EAGAIN) | EB(ESHUTDOWN);
		if (issue(t, tg, &r))
			break;
		note_new_id(t, tg, "CALL_SUBMIT", r.img.submit.out_id);
	}
}

void op_run_id(struct thr *t, const struct target *tg, uint64_t id,
	       uint32_t flags, unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_RUN);
	r.abi_pct = abi_pct;
	r.img.run.id = id;
	r.img.run.flags = flags;
	if (tg->bounded && !id)
		r.img.run.flags |= CALLBOX_RUN_NONBLOCK;
	if (abi_pct)
		rand_out(t, tg, &r.img.run.out);
	r.rt_mask = EB(EBUSY) | EB(EINTR) | EB(ENOTRECOVERABLE) |
		    EB(ESHUTDOWN);
	if (r.img.run.flags & CALLBOX_RUN_NONBLOCK)
		r.rt_mask |= EB(EAGAIN);
	/*
	 * RUN names the call it chose in @out before it enters the guest:
	 * if a signal then restarts it, it continues that call, which
	 * another thread may have ended and consumed meanwhile (ESRCH),
	 * whatever this struct said at first.
	 */
	r.rt_mask |= EB(ESRCH);
	if (id || looks_restart(&r.img.run.out))
		r.rt_mask |= EB(ENOENT);
	issue(t, tg, &r);
	after_run(t, tg, &r);
}

static void op_run(struct thr *t, const struct target *tg,
		   unsigned int abi_pct)
{
	uint32_t flags = 0;
	unsigned int f = rnd(t, 100);

	if (f < 50)
		flags = CALLBOX_RUN_NONBLOCK;
	else if (f < 53)
		flags = 1u << (1 + rnd(t, 31));
	op_run_id(t, tg, chance(t, 50) ? 0 : pick_id(t, tg), flags, abi_pct);
}

void op_wait_id(struct thr *t, const struct target *tg, uint64_t id,
		uint64_t deadline, unsigned int abi_pct)
{
	struct req r;
	uint64_t now = now_ns();

	req_init(&r, C_WAIT);
	r.abi_pct = abi_pct;
	r.img.wait.id = id;
	r.img.wait.deadline_ns = deadline;
	r.rt_mask = EB(ENOENT) | EB(ESRCH) | EB(EINTR) |
		    (deadline ? EB(ETIMEDOUT) : 0);
	if (deadline > now && deadline <= (uint64_t)INT64_MAX)
		r.timeout_ns = deadline - now;
	issue(t, tg, &r);
	if (!r.ret && r.wellformed)
		check_info(t, tg, "CALL_WAIT", &r.img.wait.out, id, W_TERMINAL);
}

static void op_wait(struct thr *t, const struct target *tg,
		    unsigned int abi_pct)
{
	uint64_t dl;

	if (tg->bounded)
		dl = chance(t, 20) ? 1 : now_ns() + rnd(t, BOUNDED_NS);
	else
		dl = rand_deadline(t, false);
	op_wait_id(t, tg, pick_id(t, tg), dl, abi_pct);
}

static void op_get(struct thr *t, const struct target *tg,
		   unsigned int abi_pct)
{
	struct req r;
	uint64_t id = pick_id(t, tg);

	req_init(&r, C_GET);
	r.abi_pct = abi_pct;
	r.img.get.id = id;
	r.rt_mask = EB(ENOENT) | EB(ESRCH);
	if (!issue(t, tg, &r) && r.wellformed)
		check_info(t, tg, "CALL_GET", &r.img.get.out, id, W_ANY);
}

static void op_cancel(struct thr *t, const struct target *tg,
		      unsigned int abi_pct)
{
	struct req r;
	uint64_t id = pick_id(t, tg);

	req_init(&r, C_CANCEL);
	r.abi_pct = abi_pct;
	r.img.cancel.id = id;
	r.rt_mask = EB(EALREADY) | EB(ENOENT);
	if (!issue(t, tg, &r) && r.wellformed)
		note_won(t, tg, id);
}

static void set_guest_entry(struct thr *t, const struct target *tg,
			    uint64_t rip)
{
	struct kvm_regs regs = { .rip = rip, .rflags = 2 };
	struct gbox *gb = tg->gb;

	if (!gb || gb->run == MAP_FAILED || gb->g.vm.vcpu_fd < 0)
		return;
	pthread_mutex_lock(&gb->rewind_lock);
	gb->run->immediate_exit = 1;
	inf_begin(t->inf, -1, "KVM_RUN (immediate_exit)", gb->g.vm.vcpu_fd,
		  NULL, NULL, 0);
	if (ioctl(gb->g.vm.vcpu_fd, KVM_RUN, 0) != -1 || errno != EINTR)
		report(t, &g_unexpected,
		       "KVM_RUN with immediate_exit on %s's vCPU: %s",
		       tg->name, strerror(errno));
	inf_end(t->inf);
	gb->run->immediate_exit = 0;
	inf_begin(t->inf, -1, "KVM_SET_REGS", gb->g.vm.vcpu_fd, NULL, NULL, 0);
	ioctl(gb->g.vm.vcpu_fd, KVM_SET_REGS, &regs);
	inf_end(t->inf);
	pthread_mutex_unlock(&gb->rewind_lock);
	if (!t->child)
		atomic_fetch_add(&g_rewinds, 1);
}

/* Put the guest back at its init, before a reset. */
static void rewind_guest(struct thr *t, const struct target *tg)
{
	set_guest_entry(t, tg, RAW_GUEST_INIT);
}

void op_reset(struct thr *t, const struct target *tg,
	      unsigned int abi_pct)
{
	struct req r;

	if (chance(t, 60))
		rewind_guest(t, tg);
	req_init(&r, C_RESET);
	r.abi_pct = abi_pct;
	r.img.reset.deadline_ns = rand_deadline(t, tg->bounded);
	r.rt_mask = EB(EBUSY) | EB(EAGAIN) | EB(ESHUTDOWN);
	if (issue(t, tg, &r) || !r.wellformed)
		return;
	note_new_id(t, tg, "SANDBOX_RESET", r.img.reset.out_id);
	/* Run the init call (it goes first) and consume it, mostly. */
	if (chance(t, 70)) {
		t->depth++;
		op_run_id(t, tg, chance(t, 70) ? r.img.reset.out_id : 0,
			  CALLBOX_RUN_NONBLOCK, 0);
		op_wait_id(t, tg, r.img.reset.out_id,
			   now_ns() + rnd(t, BOUNDED_NS), 0);
		t->depth--;
	}
}

/*
 * One RESTORE step on restore *@id: 0 if the kernel took it, and then,
 * for BEGIN, the new restore's id in *@id (and in the target's ring, for
 * other threads to end).
 */
static int restore_step(struct thr *t, const struct target *tg, uint32_t op,
			uint64_t *id, unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_RESTORE);
	r.abi_pct = abi_pct;
	r.img.restore.op = op;
	r.img.restore.id = *id;
	/*
	 * COMMIT and ABANDON are EINVAL unless @id is the restore in
	 * progress: none may have begun, or another thread's COMMIT,
	 * ABANDON or SHUTDOWN ended it, and another may have begun since.
	 */
	if (op == CALLBOX_RESTORE_BEGIN)
		r.rt_mask = EB(EBUSY) | EB(ESHUTDOWN);
	else
		r.rt_mask = EB(EINVAL) | EB(ESHUTDOWN);
	issue(t, tg, &r);
	if (!r.ret && r.wellformed && op == CALLBOX_RESTORE_BEGIN) {
		if (r.img.restore.out_poisoned > 1)
			report(t, &g_unexpected,
			       "SANDBOX_RESTORE BEGIN on %s: out_poisoned %u",
			       tg->name, r.img.restore.out_poisoned);
		*id = r.img.restore.id;
		if (tg->ring)
			atomic_store(&tg->ring->restore_id, *id);
	}
	/* What the kernel did, even if it should not have (reported). */
	return r.ret;
}

/* An id for a lone COMMIT or ABANDON: the last begun, or any. */
static uint64_t pick_restore_id(struct thr *t, const struct target *tg)
{
	uint64_t last = tg->ring ? atomic_load(&tg->ring->restore_id) : 0;

	switch (rnd(t, 4)) {
	case 0:
		return last;
	case 1:
		return last ? last - 1 : 0;
	case 2:
		return rnd64(t);
	default:
		return rnd(t, 4);
	}
}

/*
 * A restore, as a runner puts the guest back to a snapshot taken at a
 * call boundary: BEGIN, the registers back where the script's loop
 * starts (its memory is as a call leaves it, but for the command byte,
 * which every call reads afresh), then COMMIT, or ABANDON as if that had
 * failed half way. Meanwhile the others' SYNC, RUN and RESET get EBUSY.
 * Sometimes a lone COMMIT or ABANDON, an unknown op, or a restore left
 * begun, for another thread's COMMIT or ABANDON, or a SHUTDOWN (the
 * recycler's, say), to end.
 */
static void op_restore(struct thr *t, const struct target *tg,
		       unsigned int abi_pct)
{
	unsigned int r = rnd(t, 100);
	uint64_t id = pick_restore_id(t, tg);

	if (r < 15) {
		restore_step(t, tg, chance(t, 70) ? CALLBOX_RESTORE_COMMIT :
				    CALLBOX_RESTORE_ABANDON, &id, abi_pct);
		return;
	}
	if (r < 22) {
		restore_step(t, tg, bad_restore_op(t), &id, abi_pct);
		return;
	}
	if (restore_step(t, tg, CALLBOX_RESTORE_BEGIN, &id, abi_pct))
		return;
	if (!tg->sole && chance(t, 3))
		return;
	if (chance(t, 70))
		set_guest_entry(t, tg, RAW_GUEST_CODE);
	/*
	 * Well-formed, so that only the chance above leaves one begun: the
	 * lone ones and the ABI probes try a malformed COMMIT and ABANDON.
	 */
	restore_step(t, tg, chance(t, 80) ? CALLBOX_RESTORE_COMMIT :
			    CALLBOX_RESTORE_ABANDON, &id, 0);
}

void op_shutdown(struct thr *t, const struct target *tg,
		 unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_SHUTDOWN);
	r.abi_pct = abi_pct;
	if (issue(t, tg, &r) || !r.wellformed)
		return;
	/* Once SHUTDOWN returned: no new call, and POLLHUP. */
	req_init(&r, C_SUBMIT);
	r.rt_mask = EB(ESHUTDOWN);
	r.rt_ok = false;
	issue(t, tg, &r);
	if (!tg->maybe_closed) {
		struct pollfd p = { .fd = tg->fd, .events = POLLIN };

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
			report(t, &g_unexpected,
			       "%s polls 0x%x after SHUTDOWN returned",
			       tg->name, p.revents);
	}
}

static void op_poll(struct thr *t, const struct target *tg)
{
	short allowed = POLLIN | POLLRDNORM | POLLPRI | POLLHUP;
	struct pollfd p = { .fd = tg->fd, .events = POLLIN | POLLPRI };
	int ms = rnd(t, 20), ret;

	if (tg->maybe_closed)
		allowed |= POLLNVAL;
	inf_begin(t->inf, -1, "poll", tg->fd, NULL, NULL, ms * MS);
	ret = poll(&p, 1, ms);
	inf_end(t->inf);
	if (!t->child)
		atomic_fetch_add(&g_polls, 1);
	if (ret < 0 && errno != EINTR)
		report(t, &g_unexpected, "poll on %s: %s", tg->name,
		       strerror(errno));
	else if (ret > 0 && (p.revents & ~allowed))
		report(t, &g_unexpected, "poll on %s: revents 0x%x",
		       tg->name, p.revents);
}

static void op_epoll(struct thr *t, const struct target *tg)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLPRI },
			   got[4];
	int ep = t->w ? t->w->ep_fd : -1, ms = rnd(t, 10), i, n;

	if (ep < 0)
		return;
	if (chance(t, 20)) {
		epoll_ctl(ep, EPOLL_CTL_DEL, tg->fd, NULL);
	} else if (epoll_ctl(ep, EPOLL_CTL_ADD, tg->fd, &ev) &&
		   errno != EEXIST && !(tg->maybe_closed && errno == EBADF)) {
		report(t, &g_unexpected, "EPOLL_CTL_ADD of %s: %s",
		       tg->name, strerror(errno));
	}
	inf_begin(t->inf, -1, "epoll_wait", ep, NULL, NULL, ms * MS);
	n = epoll_wait(ep, got, 4, ms);
	inf_end(t->inf);
	if (n < 0 && errno != EINTR)
		report(t, &g_unexpected, "epoll_wait: %s", strerror(errno));
	for (i = 0; i < n; i++)
		if (got[i].events & ~(EPOLLIN | EPOLLRDNORM | EPOLLPRI |
				      EPOLLHUP | EPOLLERR))
			report(t, &g_unexpected, "epoll_wait: events 0x%x",
			       got[i].events);
}

/* One random operation on @tg. */
void op_random(struct thr *t, const struct target *tg,
	       unsigned int abi_pct)
{
	unsigned int r = rnd(t, 1000);

	if (r < 140)
		op_sync(t, tg, abi_pct);
	else if (r < 270)
		op_submit(t, tg, abi_pct);
	else if (r < 400)
		op_run(t, tg, abi_pct);
	else if (r < 480)
		op_batch(t, tg, abi_pct);
	else if (r < 600)
		op_wait(t, tg, abi_pct);
	else if (r < 670)
		op_get(t, tg, abi_pct);
	else if (r < 760)
		op_cancel(t, tg, abi_pct);
	else if (r < 820)
		op_reset(t, tg, abi_pct);
	else if (r < 850)
		op_restore(t, tg, abi_pct);
	else if (r < 880)
		op_poll(t, tg);
	else if (r < 900)
		op_epoll(t, tg);
	else if (r < 990)
		set_behaviour(t, tg);
	else if (r < 996)
		op_burst(t, tg);
	else
		op_shutdown(t, tg, abi_pct);
}
