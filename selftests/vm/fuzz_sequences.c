// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: the sequences: on a shared slot, the ABI probes on a private
 * sandbox, SANDBOX_CREATE with every wrong kind of fd, and commands on
 * fds of other kinds.
 */
#include "ioctl_fuzz.h"

/* ---- sequences ---- */

void slot_target(struct slot *sl, struct target *tg)
{
	*tg = (struct target) {
		.fd = sl->fd, .inst = sl->inst, .gb = &sl->gb,
		.ring = &sl->ring, .name = "a slot",
	};
}

/* A dozen operations on a shared sandbox, or on a dup of it. */
void seq_slot(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	struct target tg;
	int i, n = 1 + rnd(t, 12);

	pthread_rwlock_rdlock(&sl->lock);
	slot_target(sl, &tg);
	if (chance(t, 15) && dup2(sl->fd, t->res + RES_DUP) >= 0) {
		tg.fd = t->res + RES_DUP;
		tg.name = "a dup of a slot";
	}
	for (i = 0; i < n && !atomic_load(&g_stop); i++)
		op_random(t, &tg, 8);
	/* The dup may outlive the slot's own fd. */
	if (tg.fd != sl->fd && chance(t, 50))
		close(tg.fd);
	pthread_rwlock_unlock(&sl->lock);
}

/* Open the worker's private sandbox, for the ABI probes. */
static bool priv_open(struct worker *w)
{
	if (w->priv_open)
		return true;
	if (gbox_open(&w->priv)) {
		gbox_close(&w->priv);
		return false;
	}
	w->priv_fd = bind_sandbox(w->priv.g.vm.vm_fd, w->priv.g.vm.vcpu_fd);
	if (w->priv_fd < 0) {
		report(&w->t, &g_unexpected, "binding a private sandbox: %s",
		       strerror(-w->priv_fd));
		gbox_close(&w->priv);
		return false;
	}
	w->priv_inst = new_inst();
	ring_reset(&w->priv_ring);
	w->priv_open = true;
	return true;
}

void priv_close(struct worker *w)
{
	if (!w->priv_open)
		return;
	close(w->priv_fd);
	gbox_close(&w->priv);
	w->priv_open = false;
}

/*
 * Malformed requests on a private sandbox: each gets the errno of its
 * fault, and none has any effect (fdinfo's counts do not move). Then a
 * few well-formed ones with a long zero-tailed struct, which must work.
 */
void seq_abi(struct worker *w)
{
	static const int pick[] = {
		C_SYNC, C_SUBMIT, C_RUN, C_WAIT, C_GET, C_CANCEL, C_RESET,
		C_SHUTDOWN, C_RESTORE, C_BATCH,
	};
	struct thr *t = &w->t;
	struct cb_fdinfo before, after;
	struct batch_ids bi;
	struct target tg;
	int i, n = 5 + rnd(t, 20);

	if (!priv_open(w))
		return;
	tg = (struct target) {
		.fd = w->priv_fd, .inst = w->priv_inst, .bounded = true,
		.sole = true, .gb = &w->priv, .ring = &w->priv_ring,
		.name = "a private sandbox",
	};
	if (fdinfo_read(0, w->priv_fd, &before)) {
		report(t, &g_unexpected, "reading the fdinfo of a sandbox");
		return;
	}
	for (i = 0; i < n; i++) {
		struct req r;

		req_init(&r, pick[rnd(t, sizeof(pick) / sizeof(pick[0]))]);
		r.force_bad = true;
		r.img.run.id = pick_id(t, &tg);	/* id of RUN, WAIT, GET, CANCEL */
		if (r.cmd == C_RUN)
			r.img.run.flags = CALLBOX_RUN_NONBLOCK;
		if (r.cmd == C_SYNC || r.cmd == C_SUBMIT || r.cmd == C_RESET)
			r.img.sync.deadline_ns = rand_deadline(t, true);
		if (r.cmd == C_WAIT)
			r.img.wait.deadline_ns = 1;
		if (r.cmd == C_RESTORE) {
			/* Over the id: an op it knows, so the probe is the fault. */
			r.img.restore.op = CALLBOX_RESTORE_BEGIN + rnd(t, 3);
			r.img.restore.out_poisoned = rnd(t, 3);
		}
		if (r.cmd == C_BATCH) {
			/* Over the id: a good @nr and @done, any @ids. */
			batch_fill_ids(t, &tg, &bi, NULL, 0);
			if (bi.n > CALLBOX_MAX_CALLS)
				bi.n = CALLBOX_MAX_CALLS;
			r.img.batch.nr = bi.n;
			r.img.batch.done = chance(t, 70) ? 0 : rnd(t, bi.n);
			batch_place(t, &bi, &r.img.batch);
		}
		/* What a well-formed one may get, if the fault is RO. */
		switch (r.cmd) {
		case C_SYNC:
			r.rt_mask = EB(ENOTRECOVERABLE) | EB(EBUSY) | EB(EAGAIN);
			break;
		case C_SUBMIT:
			r.rt_mask = EB(EAGAIN);
			break;
		case C_RESET:
			r.rt_mask = EB(EAGAIN) | EB(EBUSY);
			break;
		case C_RUN:
			r.rt_mask = EB(EAGAIN) | EB(ENOENT) | EB(ESRCH) |
				    EB(ENOTRECOVERABLE) | EB(EBUSY);
			break;
		case C_WAIT:
			r.rt_mask = EB(ENOENT) | EB(ESRCH) | EB(ETIMEDOUT);
			break;
		case C_GET:
			r.rt_mask = EB(ENOENT) | EB(ESRCH);
			break;
		case C_RESTORE:
			/* None is left begun here (tg.sole): none to end. */
			r.rt_mask = r.img.restore.op == CALLBOX_RESTORE_BEGIN ?
				    EB(EBUSY) : EB(EINVAL);
			break;
		}
		/* BATCH's, from its ids: batch_expect(). */
		if (r.cmd == C_BATCH)
			batch_issue(t, &tg, &r, &bi, false);
		else
			issue(t, &tg, &r);
		if (!r.ret && r.cmd == C_SHUTDOWN) {
			priv_close(w);	/* reported already */
			return;
		}
	}
	if (fdinfo_read(0, w->priv_fd, &after)) {
		report(t, &g_unexpected, "reading the fdinfo of a sandbox");
		return;
	}
	if (before.calls != after.calls || before.exited != after.exited ||
	    before.aborted != after.aborted ||
	    before.unconsumed != after.unconsumed ||
	    before.call_id != after.call_id || strcmp(before.state, after.state))
		report(t, &g_unexpected,
		       "failed ioctls had an effect: calls %" PRIu64 "->%" PRIu64
		       ", exited %" PRIu64 "->%" PRIu64 ", aborted %" PRIu64
		       "->%" PRIu64 ", unconsumed %" PRIu64 "->%" PRIu64
		       ", state %s->%s", before.calls, after.calls,
		       before.exited, after.exited, before.aborted,
		       after.aborted, before.unconsumed, after.unconsumed,
		       before.state, after.state);
}

/*
 * A long zero-tailed SYNC on the private sandbox, when it is idle and
 * healthy: it must succeed and exit.
 */
void seq_long_struct(struct worker *w)
{
	struct thr *t = &w->t;
	struct target tg;
	union cmd_img img;
	struct callbox_call_sync *c;
	uint32_t size = chance(t, 50) ? 4096 : sizeof(*c) + 1 + rnd(t, 64);
	uint8_t *p = t->area + (size == 4096 ? 0 : rnd(t, PAGE) & ~7u);
	int ret, i;

	if (!priv_open(w))
		return;
	tg = (struct target) {
		.fd = w->priv_fd, .inst = w->priv_inst, .bounded = true,
		.sole = true, .gb = &w->priv, .ring = &w->priv_ring,
		.name = "a private sandbox",
	};
	script_set(w->priv.g.mem, SCRIPT_DONE);
	memset(p, 0, size);
	c = (struct callbox_call_sync *)p;
	c->size = size;
	memset(&img, 0, sizeof(img));
	img.sync = *c;
	inf_begin(t->inf, C_SYNC, NULL, tg.fd, &img, NULL, 0);
	ret = ioctl(tg.fd, CALLBOX_CALL_SYNC, p) ? -errno : 0;
	inf_end(t->inf);
	if (ret == -ENOTRECOVERABLE || ret == -EBUSY) {
		/* A probe left it so (a RESET's init call, say): mend it. */
		priv_close(w);
		return;
	}
	if (ret) {
		report(t, &g_unexpected,
		       "CALL_SYNC with a %u-byte zero-tailed struct on an idle sandbox: %s",
		       size, errname(-ret));
		return;
	}
	check_info(t, &tg, "CALL_SYNC (long struct)", &c->out, 0, W_TERMINAL);
	if (c->out.state != CALLBOX_STATE_EXITED ||
	    c->out.status != SCRIPT_STATUS)
		report(t, &g_unexpected,
		       "CALL_SYNC of DONE with a %u-byte struct: state %u reason %u status 0x%x",
		       size, c->out.state, c->out.reason, c->out.status);
	for (i = sizeof(*c); i < (int)size; i++)
		if (p[i]) {
			report(t, &g_unexpected,
			       "CALL_SYNC wrote byte %d of a %u-byte struct", i,
			       size);
			break;
		}
}

/* The kinds of fd SANDBOX_CREATE may be given. */
enum { FK_BADF, FK_NOT, FK_SLOT, FK_OTHER };

struct fd_kind {
	int fd, kind;
	const char *name;
};

/*
 * SANDBOX_CREATE with every kind of wrong fd, and on vCPUs bound or
 * free: the exact errno of each.
 */
void seq_create(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	int i, n = 4 + rnd(t, 8);

	pthread_rwlock_rdlock(&sl->lock);
	{
		const struct fd_kind vms[] = {
			{ sl->gb.g.vm.vm_fd, FK_SLOT, "the slot's VM" },
			{ w->other.vm_fd, FK_OTHER, "its own VM" },
			{ t->res + RES_CLOSED, FK_BADF, "a closed fd" },
			{ -1, FK_BADF, "-1" },
			{ INT_MAX, FK_BADF, "INT_MAX" },
			{ w->pipefd[0], FK_NOT, "a pipe" },
			{ w->null_fd, FK_NOT, "/dev/null" },
			{ w->other.kvm_fd, FK_NOT, "/dev/kvm" },
			{ g_dev_fd, FK_NOT, "/dev/callbox" },
			{ sl->fd, FK_NOT, "a sandbox" },
			{ sl->gb.g.vm.vcpu_fd, FK_NOT, "a vCPU" },
			{ w->stats_fd, FK_NOT, "a vCPU's stats fd" },
		};
		const struct fd_kind vcpus[] = {
			{ sl->gb.g.vm.vcpu_fd, FK_SLOT, "the slot's vCPU" },
			{ w->other.vcpu_fd, FK_OTHER, "its own vCPU" },
			{ t->res + RES_CLOSED, FK_BADF, "a closed fd" },
			{ -1, FK_BADF, "-1" },
			{ w->pipefd[1], FK_NOT, "a pipe" },
			{ w->null_fd, FK_NOT, "/dev/null" },
			{ w->other.kvm_fd, FK_NOT, "/dev/kvm" },
			{ g_dev_fd, FK_NOT, "/dev/callbox" },
			{ sl->fd, FK_NOT, "a sandbox" },
			{ sl->gb.g.vm.vm_fd, FK_NOT, "a VM" },
			{ w->stats_fd, FK_NOT, "a vCPU's stats fd" },
		};
		struct target dev = { .fd = g_dev_fd, .name = "/dev/callbox" };

		for (i = 0; i < n; i++) {
			const struct fd_kind *vm, *vcpu;
			struct req r;
			int fd;

			if (chance(t, 40)) {
				unsigned int k = rnd(t, 2);

				vm = &vms[k];
				vcpu = &vcpus[k];
			} else {
				vm = &vms[rnd(t, sizeof(vms) / sizeof(vms[0]))];
				vcpu = &vcpus[rnd(t, sizeof(vcpus) / sizeof(vcpus[0]))];
			}
			req_init(&r, C_CREATE);
			r.abi_pct = 15;
			r.img.create.vm_fd = vm->fd;
			r.img.create.vcpu_fd = vcpu->fd;
			if (vm->kind == FK_BADF) {
				r.rt_mask = EB(EBADF);
				r.rt_ok = false;
			} else if (vm->kind == FK_NOT) {
				r.rt_mask = EB(EINVAL);
				r.rt_ok = false;
			} else if (vcpu->kind == FK_BADF) {
				r.rt_mask = EB(EBADF);
				r.rt_ok = false;
			} else if (vcpu->kind != vm->kind) {
				r.rt_mask = EB(EINVAL);
				r.rt_ok = false;
			} else if (vm->kind == FK_SLOT) {
				/* Free only if a SHUTDOWN got it first. */
				r.rt_mask = EB(EBUSY);
			} else {
				r.rt_mask = 0;	/* its own: always free */
			}
			if (issue(t, &dev, &r) || !r.wellformed)
				continue;
			fd = r.img.create.out_sandbox_fd;
			if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
				report(t, &g_unexpected,
				       "a sandbox fd without FD_CLOEXEC");
			if (vm->kind == FK_OTHER) {
				struct req again;

				/* Bound now: a second one is EBUSY. */
				req_init(&again, C_CREATE);
				again.img.create = r.img.create;
				again.img.create.out_sandbox_fd = 0;
				again.rt_mask = EB(EBUSY);
				again.rt_ok = false;
				issue(t, &dev, &again);
				if (chance(t, 30)) {
					/* A guest that was never set up. */
					struct target o = {
						.fd = fd, .inst = new_inst(),
						.bounded = true,
						.name = "a sandbox of a bare vCPU",
					};

					op_sync(t, &o, 0);
				}
			}
			/* Shut down first: a child forked meanwhile holds it. */
			if (plain_shutdown(fd))
				report(t, &g_unexpected,
				       "SHUTDOWN of a new sandbox: %s",
				       strerror(errno));
			close(fd);
		}
	}
	pthread_rwlock_unlock(&sl->lock);
}

/* callbox's commands on fds of other kinds, and unknown commands. */
void seq_wrongfd(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	int i, n = 2 + rnd(t, 6);

	pthread_rwlock_rdlock(&sl->lock);
	for (i = 0; i < n; i++) {
		unsigned long nr;
		int fd, ret, e;
		void *p = chance(t, 50) ? (void *)t->area : NULL;
		const char *fdname;

		switch (rnd(t, 6)) {
		case 0:
			fd = w->pipefd[rnd(t, 2)];
			fdname = "a pipe";
			nr = cmds[rnd(t, NR_CMDS)].nr;
			break;
		case 1:
			fd = w->null_fd;
			fdname = "/dev/null";
			nr = cmds[rnd(t, NR_CMDS)].nr;
			break;
		case 2:
			fd = g_dev_fd;
			fdname = "/dev/callbox";
			nr = cmds[1 + rnd(t, NR_CMDS - 1)].nr;
			break;
		case 3:
			fd = sl->fd;
			fdname = "a sandbox";
			nr = CALLBOX_SANDBOX_CREATE;
			break;
		default:
			fd = chance(t, 50) ? sl->fd : g_dev_fd;
			fdname = fd == g_dev_fd ? "/dev/callbox" : "a sandbox";
			/* Unknown numbers; known ones with a size or type. */
			switch (rnd(t, 4)) {
			case 0:
				nr = _IO(CALLBOX_TYPE, CMD_LAST + 1 +
					 rnd(t, 0xff - CMD_LAST));
				break;
			case 1:
				nr = _IO(CALLBOX_TYPE, rnd(t, CALLBOX_CMD_BASE));
				break;
			case 2:
				nr = _IOWR(CALLBOX_TYPE, CALLBOX_CMD_BASE +
					   rnd(t, CMD_LAST - CALLBOX_CMD_BASE + 1),
					   24 + 8 * rnd(t, 6));
				break;
			default:
				nr = _IO(CALLBOX_TYPE + 1, CALLBOX_CMD_BASE +
					 rnd(t, CMD_LAST - CALLBOX_CMD_BASE + 1));
				break;
			}
			break;
		}
		memset(t->area, 0, 64);
		*(uint32_t *)t->area = 64;
		inf_begin(t->inf, -1, "an ioctl on the wrong fd", fd, NULL,
			  NULL, 0);
		ret = ioctl(fd, nr, p);
		e = errno;
		inf_end(t->inf);
		if (ret != -1 || e != ENOTTY)
			report(t, &g_unexpected,
			       "ioctl 0x%lx on %s -> %s (expected ENOTTY)", nr,
			       fdname, ret ? errname(e) : "success");
	}
	pthread_rwlock_unlock(&sl->lock);
}
