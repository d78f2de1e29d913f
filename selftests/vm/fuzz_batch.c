// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: CALL_BATCH: its ids laid out, issued, and what it ran checked.
 */
#include "ioctl_fuzz.h"

/* ---- BATCH ---- */

/* Submit up to @want calls for a batch: how many, their ids in @own. */
static uint32_t batch_submit(struct thr *t, const struct target *tg,
			     uint64_t *own, uint32_t want)
{
	uint32_t n = 0;

	while (n < want && !atomic_load(&g_stop)) {
		struct req r;
		uint64_t dl;

		if (tg->bounded)
			dl = chance(t, 80) ? now_ns() + rnd(t, BOUNDED_NS) :
			     rand_deadline(t, true);
		else
			dl = chance(t, 50) ? 0 : rand_deadline(t, false);
		if (dl > INT64_MAX)
			dl = 0;
		req_init(&r, C_SUBMIT);
		r.img.submit.deadline_ns = dl;
		r.rt_mask = EB(EAGAIN) | EB(ESHUTDOWN);
		if (issue(t, tg, &r) || !r.wellformed)
			break;
		note_new_id(t, tg, "CALL_SUBMIT", r.img.submit.out_id);
		own[n++] = r.img.submit.out_id;
	}
	return n;
}

/* An id for entry @i of a batch, and what it may be (*@kind). */
static uint64_t batch_pick_id(struct thr *t, const struct target *tg,
			      const struct batch_ids *bi, uint32_t i,
			      const uint64_t *own, uint32_t nown,
			      uint8_t *kind)
{
	unsigned int r = rnd(t, 100);
	uint64_t id;

	if (r < 15 && nown) {
		*kind = BK_ISSUED;
		return own[rnd(t, nown)];
	}
	if (r < 50) {
		/* Every id in the ring was issued; 0 is a slot not set yet. */
		id = tg->ring && atomic_load(&tg->ring->n) ?
		     ring_pick(t, tg->ring) : 0;
		*kind = id ? BK_ISSUED : BK_NEVER;
		return id;
	}
	if (r < 62 && i) {
		uint32_t j = rnd(t, i);

		*kind = BK_KIND(bi->kind[j]);
		return bi->id[j];
	}
	if (r < 70) {
		id = ring_pick(t, tg->ring) + (chance(t, 50) ? 1 : -1);
		*kind = !id || id == UINT64_MAX ? BK_NEVER : BK_MAYBE;
		return id;
	}
	if (r < 75) {
		*kind = BK_MAYBE;
		return 1 + rnd(t, 4);
	}
	*kind = BK_NEVER;
	if (r < 81)
		return 0;
	if (r < 86)
		return UINT64_MAX;
	if (r < 90)
		return 1ull << 63;
	*kind = BK_MAYBE;
	return r < 95 ? ring_last(tg->ring) + 1000 : rnd64(t);
}

/*
 * The ids of a batch: mostly the calls it submitted (@own), in order,
 * with now and then another id instead or after them; else 1 to
 * CALLBOX_MAX_CALLS + 1 ids of any kind.
 */
void batch_fill_ids(struct thr *t, const struct target *tg,
		    struct batch_ids *bi, const uint64_t *own,
		    uint32_t nown)
{
	bool in_order = nown && chance(t, 70);
	unsigned int r = rnd(t, 100);
	uint32_t i, n;

	memset(bi, 0, sizeof(*bi));
	if (in_order)
		n = nown + (chance(t, 20) ? 1 + rnd(t, 3) : 0);
	else if (r < 60)
		n = 1 + rnd(t, 8);
	else if (r < 88)
		n = 9 + rnd(t, CALLBOX_MAX_CALLS - 8);
	else if (r < 95)
		n = CALLBOX_MAX_CALLS;
	else
		n = CALLBOX_MAX_CALLS + 1;
	bi->n = n;
	for (i = 0; i < n; i++) {
		if (in_order && i < nown && !chance(t, 10)) {
			bi->id[i] = own[i];
			bi->kind[i] = BK_ISSUED;
		} else {
			bi->id[i] = batch_pick_id(t, tg, bi, i, own, nown,
						  &bi->kind[i]);
		}
	}
}

/* @done on input: 0, inside, at @nr or past it. */
static uint32_t batch_pick_done(struct thr *t, uint32_t nr)
{
	unsigned int r = rnd(t, 100);

	if (r < 80)
		return 0;
	if (r < 92)
		return rnd(t, nr);
	if (r < 96)
		return nr;
	return chance(t, 50) ? UINT32_MAX : nr + 1 + rnd(t, 100);
}

/*
 * Lay @bi out and point @b->ids at it: in the ids page (read-only during
 * the ioctl, now and then, or misaligned), starting in the unmapped page
 * before it, running into the one after it, or NULL, kernel or unmapped.
 * The ids the kernel cannot read are marked BK_FAULT.
 */
void batch_place(struct thr *t, struct batch_ids *bi,
		 struct callbox_call_batch *b)
{
	static const uintptr_t bad[] = {
		0, 8, 0xffff888000000000ull, (uintptr_t)-8,
	};
	uint8_t *page = t->area + IDS_PAGE * PAGE, *p;
	uint32_t n = bi->n, i, lo = 0, hi = n, off;
	unsigned int r = rnd(t, 100);

	bi->ro = false;
	if (r < 80) {
		off = rnd(t, PAGE - 8 * n + 1);
		if (chance(t, 85))
			off &= ~7u;
		p = page + off;
		bi->ro = r >= 70;
		bi->where = bi->ro ? "read-only" :
			    off & 7 ? "misaligned" : "normal";
	} else if (r < 88) {
		hi = rnd(t, n);		/* [0, hi) in the page */
		p = page + PAGE - 8 * hi;
		bi->where = "runs into an unmapped page";
	} else if (r < 93) {
		lo = 1 + rnd(t, n);	/* [0, lo) in the page before */
		p = page - 8 * lo;
		bi->where = "starts in an unmapped page";
	} else {
		i = rnd(t, 5);
		p = i < 4 ? (uint8_t *)bad[i] : page + PAGE + 8 * rnd(t, 64);
		hi = 0;
		bi->where = "bad";
	}
	for (i = 0; i < n; i++) {
		bi->kind[i] = BK_KIND(bi->kind[i]);
		if (i < lo || i >= hi)
			bi->kind[i] |= BK_FAULT;
		else
			memcpy(p + 8 * i, &bi->id[i], sizeof(bi->id[i]));
	}
	b->ids = (uintptr_t)p;
}

/*
 * What a well-formed BATCH may get: for the call at @done, or a later
 * one, the errors of RUN with its id (ENOENT only for an id that may
 * never have been issued, ESRCH only for one that may have been), and
 * EFAULT for an id the kernel cannot read; only EFAULT if it cannot read
 * @ids[@done] (or EINVAL, if @out names a call to continue: it cannot
 * tell whether that is @ids[@done]). @waits: not the worker's private
 * sandbox, where no other thread sets immediate_exit or shuts down.
 */
void batch_expect(struct req *r, const struct batch_ids *bi,
		  bool waits)
{
	const struct callbox_call_batch *b = &r->img.batch;
	uint32_t i;

	r->rt_mask = EB(EBUSY) | EB(ENOTRECOVERABLE);
	if (waits)
		r->rt_mask |= EB(EINTR) | EB(ESHUTDOWN);
	r->rt_ok = true;
	if (batch_bad(b, bi) || b->nr > bi->n)
		return;		/* EINVAL, which issue() expects */
	if (bi->kind[b->done] & BK_FAULT) {
		r->rt_mask = EB(EFAULT) |
			     (looks_restart(&b->out) ? EB(EINVAL) : 0);
		r->rt_ok = false;
		return;
	}
	for (i = b->done; i < b->nr; i++) {
		if (bi->kind[i] & BK_FAULT) {
			r->rt_mask |= EB(EFAULT);
			break;
		}
		if (BK_KIND(bi->kind[i]) != BK_ISSUED)
			r->rt_mask |= EB(ENOENT);
		if (BK_KIND(bi->kind[i]) != BK_NEVER)
			r->rt_mask |= EB(ESRCH);
	}
}

/* Issue BATCH @r on the ids @bi, which batch_place() laid out. */
int batch_issue(struct thr *t, const struct target *tg, struct req *r,
		const struct batch_ids *bi, bool waits)
{
	uint8_t *page = t->area + IDS_PAGE * PAGE;

	r->bi = bi;
	batch_expect(r, bi, waits);
	if (bi->ro)
		mprotect(page, PAGE, PROT_READ);
	issue(t, tg, r);
	if (bi->ro)
		mprotect(page, PAGE, PROT_READ | PROT_WRITE);
	return r->ret;
}

/* Call @id ran to EXITED in a batch: a GET, or a WAIT that consumes it. */
static void batch_check_ran(struct thr *t, const struct target *tg,
			    uint64_t id, bool consume)
{
	struct callbox_call_info *out;
	const char *what;
	struct req g;

	if (consume) {
		req_init(&g, C_WAIT);
		g.img.wait.id = id;
		g.img.wait.deadline_ns = now_ns() + BOUNDED_NS;
		g.timeout_ns = BOUNDED_NS;
		/* Another WAIT may consume it first, or be writing it back. */
		g.rt_mask = EB(ESRCH) | EB(ETIMEDOUT) | EB(EINTR);
		out = &g.img.wait.out;
		what = "CALL_WAIT";
	} else {
		req_init(&g, C_GET);
		g.img.get.id = id;
		g.rt_mask = EB(ESRCH);
		out = &g.img.get.out;
		what = "CALL_GET";
	}
	if (issue(t, tg, &g) || !g.wellformed)
		return;
	check_info(t, tg, what, out, id, consume ? W_TERMINAL : W_ANY);
	if (out->state != CALLBOX_STATE_EXITED)
		report(t, &g_unexpected,
		       "%s on %s: call %" PRIu64 " ran to EXITED in a CALL_BATCH, yet state %u reason %u flags 0x%x",
		       what, tg->name, id, out->state, out->reason,
		       out->flags);
}

/* Was the id at @done among those the batch ran, from @from? */
static bool batch_ran_it(const struct batch_ids *bi, uint32_t from,
			 uint32_t done)
{
	uint32_t i;

	for (i = from; i < done; i++)
		if (bi->id[i] == bi->id[done])
			return true;
	return false;
}

static void after_batch(struct thr *t, const struct target *tg,
			struct req *r, const struct batch_ids *bi);

/* BATCH again on the ids of @r, from @from, with a zeroed @out. */
static void batch_rest(struct thr *t, const struct target *tg,
		       const struct req *r, const struct batch_ids *bi,
		       uint32_t from)
{
	struct req c;

	req_init(&c, C_BATCH);
	c.img.batch.ids = r->sent.batch.ids;
	c.img.batch.nr = r->sent.batch.nr;
	c.img.batch.done = from;
	batch_issue(t, tg, &c, bi, true);
	after_batch(t, tg, &c, bi);
}

/*
 * After a BATCH (@r, on the ids @bi): @done and @out as the header says,
 * and the calls it ran EXITED. Then continue an interrupted call, or a
 * host call and the rest of the batch, or the rest after a call that
 * ended, or leave them.
 */
static void after_batch(struct thr *t, const struct target *tg,
			struct req *r, const struct batch_ids *bi)
{
	const struct callbox_call_batch *s = &r->sent.batch;
	const struct callbox_call_batch *b = &r->img.batch;
	const struct callbox_call_info *out = &b->out;
	uint32_t done = b->done, i, nchk = 0;
	const char *why = NULL;
	uint64_t id;

	if (!r->wellformed || r->ret == -EBADF || r->ret == -ENOMEM ||
	    s->nr > bi->n)
		return;
	if (b->size != s->size || b->flags != s->flags || b->ids != s->ids ||
	    b->nr != s->nr)
		why = "a field it only reads changed";
	else if (done < s->done || done > s->nr || (r->ret && done == s->nr))
		why = "@done out of range";
	else if (r->s.pk == PK_RO && done != s->done)
		why = "@done moved in a read-only struct";
	else if (r->ret == -EFAULT && r->s.pk == PK_NORMAL &&
		 !(bi->kind[done] & BK_FAULT))
		why = "EFAULT, yet @ids[@done] can be read";
	else if (r->ret && r->ret != -EFAULT && (bi->kind[done] & BK_FAULT))
		why = "an error for an id it cannot read";
	else if (r->ret == -ENOENT && BK_KIND(bi->kind[done]) == BK_ISSUED)
		why = "ENOENT for @ids[@done], which was issued";
	else if (r->ret == -ESRCH && BK_KIND(bi->kind[done]) == BK_NEVER)
		why = "ESRCH for @ids[@done], which is never issued";
	else if (r->ret == -EINTR && looks_restart(out) &&
		 out->id != bi->id[done])
		why = "interrupted, and @out names another call";
	else if (!r->ret && done == s->nr && out->id != bi->id[s->nr - 1])
		why = "all ran, yet @out does not name the last id";
	else if (!r->ret && done == s->nr &&
		 out->state != CALLBOX_STATE_EXITED)
		why = "all ran, yet @out is not EXITED";
	else if (!r->ret && done < s->nr && out->id != bi->id[done])
		why = "@out does not name @ids[@done]";
	else if (!r->ret && done < s->nr && batch_ran_it(bi, s->done, done) &&
		 out->state != CALLBOX_STATE_EXITED)
		why = "stopped at a call it ran, yet @out is not EXITED";
	if (why) {
		char ids[600];

		batch_ids_str(ids, sizeof(ids), bi);
		report(t, &g_unexpected,
		       "CALL_BATCH on %s -> %s: %s: nr %u, done %u -> %u, "
		       "out.id %" PRIu64 " -> %" PRIu64 ", out.state %u -> %u, "
		       "reason %u, flags 0x%x%s",
		       tg->name, r->ret ? errname(-r->ret) : "0", why, s->nr,
		       s->done, done, (uint64_t)s->out.id, (uint64_t)out->id,
		       s->out.state, out->state, out->reason, out->flags, ids);
		return;
	}

	/* The calls before @done ran to EXITED, and stay so. */
	if (!t->child)
		atomic_fetch_add(&g_batch_ran, done - s->done);
	for (i = s->done; i < done && nchk < 12; i++) {
		unsigned int c = rnd(t, 100);

		if (c < 65) {
			batch_check_ran(t, tg, bi->id[i], c < 45);
			nchk++;
		}
	}

	if (r->ret == -EINTR && looks_restart(out) && t->depth < 4 &&
	    chance(t, 70)) {
		/* Interrupted (immediate_exit): continue as the ABI says. */
		struct req c;

		req_init(&c, C_BATCH);
		c.img = r->img;
		c.timeout_ns = r->timeout_ns;
		t->depth++;
		batch_issue(t, tg, &c, bi, true);
		after_batch(t, tg, &c, bi);
		t->depth--;
		return;
	}
	if (r->ret)
		return;
	check_info(t, tg, "CALL_BATCH", out, out->id, W_RUNRET);
	ring_add(tg->ring, out->id);
	if (!t->child) {
		if (done == s->nr)
			atomic_fetch_add(&g_batch_all, 1);
		else if (out->state <= CALLBOX_STATE_HOSTCALL)
			atomic_fetch_add(&g_batch_stop[out->state], 1);
	}
	if (done == s->nr || t->depth >= 5)
		return;
	id = out->id;
	t->depth++;
	if (out->state == CALLBOX_STATE_HOSTCALL) {
		/* Continue it with RUN, then batch the rest from @done + 1. */
		if (chance(t, 75)) {
			op_run_id(t, tg, chance(t, 50) ? id : 0, 0, 0);
			if (done + 1 < s->nr && chance(t, 70))
				batch_rest(t, tg, r, bi, done + 1);
		} else if (chance(t, 50)) {
			op_wait_id(t, tg, id, tg->bounded ?
				   now_ns() + rnd(t, BOUNDED_NS) :
				   rand_deadline(t, false), 0);
		}
	} else if (done + 1 < s->nr && chance(t, 40)) {
		/* It ended: the rest, as a runner that skips it would. */
		batch_rest(t, tg, r, bi, done + 1);
	}
	t->depth--;
}

/*
 * BATCH: calls it submits just before, mostly, mixed with other ids;
 * @done 0, inside, at or past @nr; @out empty, garbage, or naming a call
 * to continue (@ids[@done] now and then); @ids anywhere batch_place()
 * puts them.
 */
void op_batch(struct thr *t, const struct target *tg,
	      unsigned int abi_pct)
{
	struct callbox_call_batch *b;
	struct batch_ids bi;
	uint64_t own[8];
	uint32_t nown = 0;
	struct req r;

	if (chance(t, 60))
		nown = batch_submit(t, tg, own, 1 + rnd(t, 8));
	/* Mostly a guest that ends every call, so that batches run on. */
	if (tg->gb && chance(t, 50))
		script_set(tg->gb->g.mem, SCRIPT_DONE);
	else if (chance(t, 30))
		set_behaviour(t, tg);
	batch_fill_ids(t, tg, &bi, own, nown);
	req_init(&r, C_BATCH);
	r.abi_pct = abi_pct;
	b = &r.img.batch;
	b->nr = bi.n;
	b->done = batch_pick_done(t, bi.n);
	rand_out(t, tg, &b->out);
	if (b->done < bi.n && chance(t, 5)) {
		/* A continuation, if it was interrupted in this thread. */
		b->out.id = bi.id[b->done];
		b->out.state = CALLBOX_STATE_ENTERED;
	}
	batch_place(t, &bi, b);
	batch_issue(t, tg, &r, &bi, true);
	after_batch(t, tg, &r, &bi);
}

/*
 * Put the guest's registers back at @rip, as raw_guest_rewind() and
 * raw_guest_restore() do, with every step watched: KVM_RUN with
 * immediate_exit (KVM finishes the exit it stopped at), then
 * KVM_SET_REGS.
 */
