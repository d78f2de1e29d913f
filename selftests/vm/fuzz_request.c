// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: a request: its struct placed and shaped, the ioctl issued
 * and watched, the errno judged against what the uapi header allows, and
 * what comes back checked.
 */
#include "ioctl_fuzz.h"

/* ---- placing a struct ---- */

static void area_ro_write(struct thr *t, bool writable)
{
	mprotect(t->area + 3 * PAGE, PAGE,
		 writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

/* Pick how a struct is handed over: exact and normal unless @abi_pct. */
static void shape_pick(struct thr *t, unsigned int abi_pct, bool force_bad,
		       struct shape *s)
{
	static const int bad_sz[] = {
		SZ_BIGX, SZ_PAGEX, SZ_SMALL, SZ_ZERO, SZ_4097, SZ_HUGE,
	};

	memset(s, 0, sizeof(*s));
	s->sz = SZ_EXACT;
	s->pk = PK_NORMAL;
	if (force_bad) {
		switch (rnd(t, 3)) {
		case 0:
			s->sz = bad_sz[rnd(t, sizeof(bad_sz) / sizeof(bad_sz[0]))];
			break;
		case 1:
			s->pk = chance(t, 50) ? PK_STRADDLE : PK_BAD;
			break;
		default:
			s->pk = PK_RO;	/* the caller makes sure it counts */
			break;
		}
		return;
	}
	if (!chance(t, abi_pct))
		return;
	if (chance(t, 65))
		s->sz = 1 + rnd(t, NR_SZ - 1);
	if (s->sz == SZ_EXACT || chance(t, 25))
		s->pk = 1 + rnd(t, NR_PK - 1);
}

/* Lay @img out as @s says; fills s->size, s->p, s->tail_x, s->fault. */
static void place(struct thr *t, union cmd_img *img, uint32_t ksize,
		  struct shape *s)
{
	static const uint32_t huge[] = {
		8192, 65536, 1u << 31, UINT32_MAX, 4096 + 8,
	};
	uint32_t size, span, off, k;

	switch (s->sz) {
	case SZ_BIG0:
	case SZ_BIGX:
		size = ksize + 1 + rnd(t, 64);
		break;
	case SZ_PAGE0:
	case SZ_PAGEX:
		size = 4096;
		break;
	case SZ_SMALL:
		size = 1 + rnd(t, ksize - 1);
		break;
	case SZ_ZERO:
		size = 0;
		break;
	case SZ_4097:
		size = 4097;
		break;
	case SZ_HUGE:
		size = huge[rnd(t, sizeof(huge) / sizeof(huge[0]))];
		break;
	default:
		size = ksize;
		break;
	}
	s->size = size;
	img->create.size = size;	/* every struct starts with it */
	span = size >= ksize && size <= 4096 ? size : ksize;

	if (s->pk == PK_BAD) {
		static const uintptr_t bad[] = {
			0, 8, 0xffff888000000000ull, (uintptr_t)-8,
		};
		unsigned int i = rnd(t, 6);

		if (i < 4)
			s->p = (uint8_t *)bad[i];
		else
			s->p = t->area + (i == 4 ? 2 : 4) * PAGE;
		return;
	}
	if (s->pk == PK_STRADDLE && span < 5)
		s->pk = PK_NORMAL;
	if (s->pk == PK_RO && span > PAGE)
		s->pk = PK_NORMAL;

	switch (s->pk) {
	case PK_STRADDLE:
		/* At least the size is readable; the rest runs off. */
		k = 4 + rnd(t, span - 4);
		s->p = t->area + 2 * PAGE - k;
		memset(s->p, 0, k);
		memcpy(s->p, img, k < ksize ? k : ksize);
		if (s->sz == SZ_BIGX || s->sz == SZ_PAGEX) {
			uint32_t x = ksize + rnd(t, size - ksize);

			/* Beyond k the kernel faults before it sees it. */
			if (x < k) {
				s->p[x] = 1 + rnd(t, 255);
				s->tail_x = true;
			}
		}
		s->fault = size >= ksize && size <= 4096;
		return;
	case PK_RO:
		off = rnd(t, PAGE - span + 1) & ~7u;
		s->p = t->area + 3 * PAGE + off;
		area_ro_write(t, true);
		break;
	default:
		off = rnd(t, 2 * PAGE - span + 1);
		if (chance(t, 80))
			off &= ~7u;
		s->p = t->area + off;
		break;
	}
	memset(s->p, 0, span);
	memcpy(s->p, img, ksize);
	if (s->sz == SZ_BIGX || s->sz == SZ_PAGEX) {
		s->p[ksize + rnd(t, size - ksize)] = 1 + rnd(t, 255);
		s->tail_x = true;
	}
	if (s->pk == PK_RO)
		area_ro_write(t, false);
}

/* ---- issuing a request ---- */

void req_init(struct req *r, int cmd)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->rt_ok = true;
}

bool looks_restart(const struct callbox_call_info *out)
{
	return out->state == CALLBOX_STATE_ENTERED && out->id;
}

/* An op that RESTORE does not know. */
uint32_t bad_restore_op(struct thr *t)
{
	static const uint32_t bad[] = {
		0, CALLBOX_RESTORE_ABANDON + 1, 0x80000001, UINT32_MAX,
	};

	if (chance(t, 25))
		return CALLBOX_RESTORE_ABANDON + 1 + rnd(t, 0xffff);
	return bad[rnd(t, sizeof(bad) / sizeof(bad[0]))];
}

/* BATCH's @nr 0 or above CALLBOX_MAX_CALLS, or @done at or past @nr. */
static void batch_mutate(struct thr *t, struct callbox_call_batch *b)
{
	static const uint32_t big[] = {
		CALLBOX_MAX_CALLS + 1, CALLBOX_MAX_CALLS + 2, 1024, 1u << 31,
		UINT32_MAX,
	};

	switch (rnd(t, 3)) {
	case 0:
		b->nr = chance(t, 50) ? 0 : big[rnd(t, sizeof(big) /
						       sizeof(big[0]))];
		break;
	case 1:
		b->done = b->nr + rnd(t, 3);
		break;
	default:
		b->done = chance(t, 50) ? UINT32_MAX : b->nr + rnd64(t) % 1000;
		break;
	}
}

/*
 * Make a field malformed: a flag, the reserved field, the deadline,
 * RESTORE's op or BATCH's @nr and @done.
 */
static void mutate_field(struct thr *t, struct req *r)
{
	const struct cmd_info *ci = &cmds[r->cmd];
	uint8_t *raw = r->img.raw;
	uint32_t bit;

	for (;;) {
		switch (rnd(t, 5)) {
		case 0:
			do
				bit = 1u << rnd(t, 32);
			while (bit & ci->flags_mask);
			r->img.create.flags |= bit;	/* at offset 4 always */
			return;
		case 1:
			if (ci->rsv_off < 0)
				continue;
			*(uint32_t *)(raw + ci->rsv_off) = 1 + rnd(t, 0xffff);
			return;
		case 2:
			if (ci->deadline_off < 0)
				continue;
			*(uint64_t *)(raw + ci->deadline_off) =
				chance(t, 50) ? UINT64_MAX :
				(uint64_t)INT64_MAX + 1 + rnd(t, 1000);
			return;
		case 3:
			if (r->cmd != C_RESTORE)
				continue;
			r->img.restore.op = bad_restore_op(t);
			return;
		default:
			if (r->cmd != C_BATCH)
				continue;
			batch_mutate(t, &r->img.batch);
			return;
		}
	}
}

static bool restore_op_bad(uint32_t op)
{
	return op < CALLBOX_RESTORE_BEGIN || op > CALLBOX_RESTORE_ABANDON;
}

/*
 * BATCH's EINVAL: @nr 0 or above CALLBOX_MAX_CALLS, @done not below @nr,
 * or @out naming a call to continue that is not @ids[@done] (which the
 * kernel can only tell if it can read that id).
 */
bool batch_bad(const struct callbox_call_batch *b,
	       const struct batch_ids *bi)
{
	if (!b->nr || b->nr > CALLBOX_MAX_CALLS || b->done >= b->nr)
		return true;
	return looks_restart(&b->out) && bi && b->done < bi->n &&
	       !(bi->kind[b->done] & BK_FAULT) &&
	       b->out.id != bi->id[b->done];
}

static bool fields_bad(const struct req *r)
{
	const struct cmd_info *ci = &cmds[r->cmd];
	const uint8_t *raw = r->img.raw;

	if (r->img.create.flags & ~ci->flags_mask)
		return true;
	if (ci->rsv_off >= 0 && *(const uint32_t *)(raw + ci->rsv_off))
		return true;
	if (ci->deadline_off >= 0 &&
	    *(const uint64_t *)(raw + ci->deadline_off) > (uint64_t)INT64_MAX)
		return true;
	if (r->cmd == C_RUN && looks_restart(&r->img.run.out) &&
	    r->img.run.id && r->img.run.id != r->img.run.out.id)
		return true;
	if (r->cmd == C_RESTORE && restore_op_bad(r->img.restore.op))
		return true;
	if (r->cmd == C_BATCH && batch_bad(&r->img.batch, r->bi))
		return true;
	return false;
}

/* ", ids (where) [id, id, ?, ...]": what a BATCH's @ids held. */
void batch_ids_str(char *buf, size_t len, const struct batch_ids *bi)
{
	size_t n = snprintf(buf, len, ", ids (%s) [", bi->where);
	uint32_t i;

	for (i = 0; i < bi->n && n < len; i++) {
		if (len - n < 32) {
			n += snprintf(buf + n, len - n, "... %u more",
				      bi->n - i);
			break;
		}
		if (bi->kind[i] & BK_FAULT)
			n += snprintf(buf + n, len - n, "%s?", i ? "," : "");
		else
			n += snprintf(buf + n, len - n, "%s%" PRIu64,
				      i ? "," : "", bi->id[i]);
	}
	if (n < len)
		snprintf(buf + n, len - n, "]");
}

/* Does success write the struct back? RESTORE's BEGIN writes its id. */
static bool req_writes(const struct req *r)
{
	return cmds[r->cmd].writes ||
	       (r->cmd == C_RESTORE &&
		r->img.restore.op == CALLBOX_RESTORE_BEGIN);
}

int issue(struct thr *t, const struct target *tg, struct req *r)
{
	const struct cmd_info *ci = &cmds[r->cmd];
	struct shape *s = &r->s;
	uint32_t mask, ksize = ci->ksize;
	bool ok, bad_field;
	int ret, e;

	shape_pick(t, r->abi_pct, r->force_bad, s);
	if (r->force_bad && s->pk == PK_RO && !req_writes(r))
		s->pk = PK_BAD;
	if ((r->force_bad && s->pk == PK_NORMAL && s->sz == SZ_EXACT) ||
	    (!r->force_bad && chance(t, r->abi_pct / 2)))
		mutate_field(t, r);
	bad_field = fields_bad(r);
	place(t, &r->img, ksize, s);
	r->sent = r->img;

	/* What may come back. */
	if (s->pk == PK_BAD) {
		mask = EB(EFAULT);
		ok = false;
	} else if (s->size < ksize) {
		mask = EB(EINVAL);
		ok = false;
	} else if (s->size > 4096) {
		mask = EB(E2BIG);
		ok = false;
	} else {
		mask = (s->fault ? EB(EFAULT) : 0) | (s->tail_x ? EB(E2BIG) : 0) |
		       (bad_field ? EB(EINVAL) : 0);
		ok = !mask;
		if (ok) {
			mask = r->rt_mask | EB(ENOMEM);
			ok = r->rt_ok;
			if (s->pk == PK_RO && req_writes(r)) {
				mask |= EB(EFAULT);
				ok = false;
			}
		}
	}
	r->wellformed = s->pk != PK_BAD && s->size >= ksize &&
		s->size <= 4096 && !s->fault && !s->tail_x && !bad_field;
	if (tg->foreign && r->cmd != C_CREATE) {
		mask = EB(EIO);
		ok = false;
		r->wellformed = false;
	}
	if (tg->maybe_closed)
		mask |= EB(EBADF);

	inf_begin(t->inf, r->cmd, NULL, tg->fd, &r->sent, s, r->timeout_ns);
	ret = ioctl(tg->fd, ci->nr, s->p);
	e = errno;
	inf_end(t->inf);
	r->ret = ret ? -e : 0;
	if (ret && ret != -1) {
		report(t, &g_unexpected, "%s returned %d", ci->name, ret);
		r->ret = -EPROTO;
	}

	/* What came back, if it can be read. */
	if ((s->pk == PK_NORMAL || s->pk == PK_RO) && s->size >= ksize &&
	    s->size <= 4096)
		memcpy(&r->img, s->p, ksize);

	if (!t->child) {
		int b = r->ret ? eb_of(-r->ret) : NR_EB;

		atomic_fetch_add(&g_stat[r->cmd][b < 0 ? NR_EB + 1 : b], 1);
	}
	if (r->ret ? !(eb_of(-r->ret) >= 0 &&
		       (mask & (1u << eb_of(-r->ret)))) : !ok) {
		char desc[900], allowed[200];
		size_t dn;

		describe(desc, sizeof(desc), r->cmd, NULL, tg->fd, tg->name,
			 s->size, s->sz, s->pk, &r->sent);
		dn = strlen(desc);
		if (r->cmd == C_BATCH && r->bi)
			batch_ids_str(desc + dn, sizeof(desc) - dn, r->bi);
		mask_str(allowed, sizeof(allowed), mask, ok);
		report(t, &g_unexpected, "%s -> %s (expected %s)", desc,
		       r->ret ? errname(-r->ret) : "success", allowed);
		if (!r->ret && r->cmd == C_CREATE && s->size >= ksize &&
		    (s->pk == PK_NORMAL || s->pk == PK_RO)) {
			plain_shutdown(r->img.create.out_sandbox_fd);
			close(r->img.create.out_sandbox_fd);
		}
		r->wellformed = false;
		return r->ret ? r->ret : -EPROTO;
	}
	/* A zero tail stays zero: the kernel writes only what it knows. */
	if (!r->ret && s->pk == PK_NORMAL &&
	    (s->sz == SZ_BIG0 || s->sz == SZ_PAGE0)) {
		uint32_t i;

		for (i = ksize; i < s->size; i++) {
			if (s->p[i]) {
				report(t, &g_unexpected,
				       "%s wrote byte %u of a %u-byte struct",
				       ci->name, i, s->size);
				break;
			}
		}
	}
	return r->ret;
}

/* ---- what comes back ---- */

void note_won(struct thr *t, const struct target *tg, uint64_t id)
{
	unsigned int i = t->nwon++ % 16;

	t->won[i].inst = tg->inst;
	t->won[i].id = id;
}

static bool won(struct thr *t, const struct target *tg, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < 16 && i < t->nwon; i++)
		if (t->won[i].inst == tg->inst && t->won[i].id == id)
			return true;
	return false;
}

/* A new id this thread got: the sandbox's ids only increase. */
void note_new_id(struct thr *t, const struct target *tg,
		 const char *what, uint64_t id)
{
	if (!id) {
		report(t, &g_unexpected, "%s on %s returned id 0", what,
		       tg->name);
		return;
	}
	if (t->ids_inst != tg->inst) {
		t->ids_inst = tg->inst;
		t->last_new = 0;
	}
	if (id <= t->last_new)
		report(t, &g_unexpected,
		       "%s on %s: new id %" PRIu64 " after %" PRIu64,
		       what, tg->name, id, t->last_new);
	t->last_new = id;
	ring_add(tg->ring, id);
}

void check_info(struct thr *t, const struct target *tg,
		const char *what, const struct callbox_call_info *c,
		uint64_t want_id, int want)
{
	bool terminal = c->state == CALLBOX_STATE_EXITED ||
			c->state == CALLBOX_STATE_ABORTED;
	const char *why = NULL;

	if (c->state < CALLBOX_STATE_QUEUED || c->state > CALLBOX_STATE_HOSTCALL)
		why = "state out of range";
	else if (!c->id)
		why = "id 0";
	else if (want_id && c->id != want_id)
		why = "another call's id";
	else if (c->__reserved)
		why = "reserved field set";
	else if (c->flags & ~0xfu)
		why = "unknown flags";
	else if (c->state == CALLBOX_STATE_ABORTED &&
		 (c->reason < 1 || c->reason >= NR_REASONS))
		why = "reason out of range";
	else if (c->state != CALLBOX_STATE_ABORTED && c->reason)
		why = "a reason, but not ABORTED";
	else if ((c->state == CALLBOX_STATE_EXITED ||
		  c->state == CALLBOX_STATE_HOSTCALL) &&
		 !(c->flags & CALLBOX_CALL_GUEST_RAN))
		why = "EXITED or HOSTCALL without GUEST_RAN";
	else if ((c->flags & CALLBOX_CALL_POISONED) &&
		 c->state != CALLBOX_STATE_ABORTED)
		why = "POISONED but not ABORTED";
	else if ((c->flags & CALLBOX_CALL_POISONED) &&
		 !(c->flags & (CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_INIT)))
		why = "POISONED, yet neither GUEST_RAN nor INIT";
	else if (terminal && (c->flags & CALLBOX_CALL_CANCEL_PENDING))
		why = "ended with CANCEL_PENDING";
	else if (want == W_TERMINAL && !terminal)
		why = "not ended";
	else if (want == W_RUNRET && !terminal &&
		 c->state != CALLBOX_STATE_HOSTCALL)
		why = "returned neither ended nor in HOSTCALL";
	else if (won(t, tg, c->id) && terminal &&
		 (c->state != CALLBOX_STATE_ABORTED ||
		  c->reason != CALLBOX_ABORT_CANCELLED))
		why = "this thread's CANCEL won, yet it did not end CANCELLED";
	else if (won(t, tg, c->id) && !terminal &&
		 !(c->flags & CALLBOX_CALL_CANCEL_PENDING))
		why = "this thread's CANCEL won, yet no CANCEL_PENDING";
	else if (c->state == CALLBOX_STATE_ABORTED &&
		 c->reason == CALLBOX_ABORT_RUN_FAILED &&
		 (int64_t)c->detail <= -512 && (int64_t)c->detail >= -530)
		/* ERESTARTSYS & co: a signal or a kick, not a failure. */
		why = "RUN_FAILED with a kernel-internal restart errno";
	if (why) {
		report(t, &g_unexpected,
		       "%s on %s: %s: id %" PRIu64 " (wanted %" PRIu64
		       ") state %u reason %u flags 0x%x status 0x%x detail %" PRId64
		       " exit_reason %u", what, tg->name, why, (uint64_t)c->id,
		       want_id, c->state, c->reason, c->flags, c->status,
		       (int64_t)c->detail, c->exit_reason);
		return;
	}
	if (want == W_ANY || t->child)
		return;
	if (c->state == CALLBOX_STATE_EXITED)
		atomic_fetch_add(&g_out_exited, 1);
	else if (c->state == CALLBOX_STATE_HOSTCALL)
		atomic_fetch_add(&g_out_hostcall, 1);
	else if (c->state == CALLBOX_STATE_ABORTED &&
		 !atomic_fetch_add(&g_out_aborted[c->reason], 1))
		ksft_print_msg("first ABORTED %s: %s on %s, flags 0x%x, detail 0x%llx, exit_reason %u\n",
			       reason_names[c->reason], what, tg->name,
			       c->flags, (unsigned long long)c->detail,
			       c->exit_reason);
}
