// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: putting guest memory back, to the image as loaded (a reset)
 * or to the snapshot taken right after the init (a restore), and the
 * restore itself.
 *
 * KVM logs the pages the guest writes (KVM_MEM_LOG_DIRTY_PAGES), and only
 * those, since memory was last put back, can differ from what it was put
 * back to; so can the pages that differ between the two states (those
 * the init wrote), when memory goes from one to the other. Nothing else
 * is touched, so the cost grows with what the guest wrote, not with its
 * memory. Measured under TCG (bench --lifecycle: a noop call before each
 * reset; medians of one run, December 2026), a reset against the copy of
 * the whole memory it replaced: 6.0 ms -> 1.1 ms at 4 MiB, 122 ms ->
 * 3.7 ms at 64 MiB, 488 ms -> 1.0 ms at 256 MiB (creating a VM,
 * create.floor: 100 ms there); what is left is mostly the init call,
 * which a restore does not run. A restore after a noop call, at 4 MiB,
 * took about 131 us of ioctls and copies (medians of 300, December 2026;
 * restore.d1.m4 in make bench: 3.2-3.4x a KVM_RUN round trip): its
 * fence (BEGIN and COMMIT, 10 us), the KVM_RUN that completes the last
 * exit (7), the dirty log (7), the put-back of 8 pages and 3 I/O pages
 * (34), and the vCPU state (63: KVM_SET_XSAVE 17, KVM_SET_SREGS 12,
 * KVM_SET_MSRS with the TLB flush 12, the rest 5 or less each). A noop
 * call with CALLBOX_CONFIG_FRESH_CALLS costs 2.9x a plain one there
 * (call.fresh: 182 us against 63 us). Since the general and segment
 * registers and the events are loaded by one KVM_RUN that enters nothing
 * (vcpu_state.c's sync_regs_load()), not by three ioctls, those three
 * take 11 us, not 22, and restore.d1.m4 went from 123-130 us to 113-115
 * (two interleaved runs of each in one boot).
 *
 * The mailbox slots (with their links in next_slot[]) and I/O buffers of
 * outstanding calls are never put back: they hold the requests of queued
 * calls and the results not yet collected; those of free slots are
 * zeroed. The mailbox's header always
 * is put back: the library writes it (a call's slot, a host call's
 * outcome), and KVM does not log what the process writes; what it writes
 * into I/O buffers it notes itself (sandbox_memory_note_write()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_ioctl.h"
#include "sandbox.h"
#include "snapshot.h"

#define PAGE		CALLBOX_VM_PAGE_SIZE

/* The end of the mailbox's header, where its slots begin. */
#define HEADER_END	(CALLBOX_GPA_MAILBOX + \
			 offsetof(struct callbox_mailbox, slots))

static bool page_in(const uint64_t *bitmap, uint64_t page)
{
	return bitmap[page / 64] & (1ull << (page % 64));
}

/*
 * The pages of the mailbox's header, which are always put back: the
 * library writes them, and KVM logs only the guest's writes. (The GDT,
 * page tables, TSS and IDT below it only the guest writes after the
 * load, the CPU's accessed and dirty bits included, and KVM logs those.)
 */
static void mark_header(uint64_t *bitmap)
{
	uint64_t page;

	for (page = CALLBOX_GPA_MAILBOX / PAGE; page * PAGE < HEADER_END;
	     page++)
		__atomic_fetch_or(&bitmap[page / 64], 1ull << (page % 64),
				  __ATOMIC_RELAXED);
}

/* Take KVM's log of the pages the guest wrote into m->written. */
static int collect_written(struct callbox_sandbox *sb, char *err,
			   size_t errlen)
{
	size_t w, words = callbox_vm_dirty_words(sb->vm.mem_size);
	int ret;

	ret = callbox_vm_dirty_pages(&sb->vm, err, errlen);
	if (ret)
		return ret;
	/*
	 * Submitters note their writes meanwhile: atomically too. Most
	 * words are zero, and skipped: atomic operations on each of the 1024
	 * words of 256 MiB, here and in the put-back, cost about 10 us a
	 * restore under TCG (restore.d1.m256 against restore.d1.m4: 1.31x
	 * -> 1.22x, one run each).
	 */
	for (w = 0; w < words; w++)
		if (sb->vm.log.dirty[w])
			__atomic_fetch_or(&sb->memory.written[w],
					  sb->vm.log.dirty[w],
					  __ATOMIC_RELAXED);
	return 0;
}

void sandbox_memory_note_write(struct callbox_sandbox *sb, const void *p,
			       size_t len)
{
	uint64_t addr = (uint64_t)((const char *)p - (char *)sb->vm.mem);
	uint64_t page, last = (addr + len - 1) / PAGE;

	if (!sb->memory.written || !len)
		return;
	/* Submitters write requests without run_lock: atomically. */
	for (page = addr / PAGE; page <= last; page++)
		__atomic_fetch_or(&sb->memory.written[page / 64],
				  1ull << (page % 64), __ATOMIC_RELAXED);
}

/* The snapshot's copy of @page, which it holds. */
static const char *snapshot_page(const struct sandbox_snapshot *snap,
				 uint64_t page)
{
	size_t lo = 0, hi = snap->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (snap->index[mid] < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	return snap->data + lo * PAGE;
}

/*
 * Put @len bytes at @dst back to @src (or to zeroes if @src is NULL),
 * writing only the chunks that differ. A request rewrites few bytes of
 * most pages it writes (a stack frame, a slot of the mailbox, the
 * runtime's globals), and reading is cheaper than writing. Measured
 * under TCG (December 2026, 300 restores after a noop call, 8 pages and
 * 3 I/O pages): the put-back took 62-70 us with whole pages copied,
 * 34-39 us with this.
 */
#define PUT_BACK_CHUNK	256
static void put_back_bytes(char *dst, const char *src, size_t len)
{
	static const char zeroes[PUT_BACK_CHUNK];
	size_t off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < PUT_BACK_CHUNK ? len - off : PUT_BACK_CHUNK;
		if (!memcmp(dst + off, src ? src + off : zeroes, n))
			continue;
		if (src)
			memcpy(dst + off, src + off, n);
		else
			memset(dst + off, 0, n);
	}
}

/* Put @page back from @src (a copy of it), or from the image as loaded. */
static void put_back_page(struct callbox_sandbox *sb, uint64_t page,
			  const char *src)
{
	const uint64_t slots_end = CALLBOX_GPA_MAILBOX +
				   sizeof(struct callbox_mailbox);
	const uint64_t io_end = sb->io_base +
				callbox_io_size(sb->cfg.input_size,
						sb->cfg.output_size,
						sb->cfg.max_calls);
	/* The image's parts come from it, the rest was zeroes. */
	const struct {
		uint64_t start, end;
		bool in_image;
	} parts[] = {
		{ 0, HEADER_END, true },
		{ slots_end, sb->image_end, true },
		{ sb->image_end, sb->io_base, false },
		{ io_end, sb->vm.mem_size, false },
	};
	const uint64_t addr = page * PAGE;
	char *mem = sb->vm.mem;
	uint64_t start, end;
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		start = parts[i].start > addr ? parts[i].start : addr;
		end = parts[i].end < addr + PAGE ? parts[i].end : addr + PAGE;
		if (start >= end)
			continue;
		if (src)
			put_back_bytes(mem + start, src + (start - addr),
				       end - start);
		else if (parts[i].in_image)
			put_back_bytes(mem + start,
				       (char *)sb->boot_image + start,
				       end - start);
		else
			put_back_bytes(mem + start, NULL, end - start);
	}
}

/*
 * The I/O buffers and mailbox slots of the calls outstanding now (in
 * @keep) stay: they hold the requests of queued calls and the results not
 * yet collected. Those of free slots, and the host call's pair, are
 * zeroed where written: an earlier request's arguments, results and host
 * call replies must not reach the next. With sb->lock held, so that no
 * slot is taken meanwhile.
 */
static void put_back_io_page(struct callbox_sandbox *sb, uint64_t page,
			     const bool *keep)
{
	const uint64_t pair = sb->cfg.input_size + sb->cfg.output_size;
	uint64_t index = (page * PAGE - sb->io_base) / pair;

	if (index < sb->cfg.max_calls && keep[index])
		return;
	put_back_bytes((char *)sb->vm.mem + page * PAGE, NULL, PAGE);
}

void sandbox_memory_clear_slot(struct callbox_sandbox *sb, int slot)
{
	struct callbox_mailbox *mailbox = sandbox_mailbox(sb);

	memset((void *)&mailbox->slots[slot], 0, sizeof(mailbox->slots[slot]));
	mailbox->next_slot[slot] = 0;
	memset(sandbox_io_input(sb, slot), 0, sb->cfg.input_size);
	memset(sandbox_io_output(sb, slot), 0, sb->cfg.output_size);
	sandbox_memory_note_write(sb, sandbox_io_input(sb, slot),
				  sb->cfg.input_size);
	sandbox_memory_note_write(sb, sandbox_io_output(sb, slot),
				  sb->cfg.output_size);
	sb->slots[slot].kept = false;
}

int sandbox_memory_put_back(struct callbox_sandbox *sb, bool to_snapshot,
			    char *err, size_t errlen)
{
	struct sandbox_memory *m = &sb->memory;
	const uint64_t io_end = sb->io_base +
				callbox_io_size(sb->cfg.input_size,
						sb->cfg.output_size,
						sb->cfg.max_calls);
	size_t w, words = callbox_vm_dirty_words(sb->vm.mem_size);
	const uint64_t *differ;
	bool keep[CALLBOX_MAX_SLOTS];
	uint64_t word, page, mask, kept;
	const char *src;
	unsigned int i;
	int ret;

	ret = collect_written(sb, err, errlen);
	if (ret)
		return ret;
	mark_header(m->written);

	pthread_mutex_lock(&sb->lock);
	/*
	 * Every slot the mailbox has, those past max_calls too, which the
	 * guest can write as well; and a slot's link in a batch's chain
	 * (next_slot[]), which is part of it.
	 */
	for (i = 0; i < CALLBOX_MAX_SLOTS; i++) {
		keep[i] = i < sb->cfg.max_calls && sb->slots[i].used;
		if (keep[i]) {
			sb->slots[i].kept = true;
			continue;
		}
		put_back_bytes((char *)&sandbox_mailbox(sb)->slots[i], NULL,
			       sizeof(sandbox_mailbox(sb)->slots[i]));
		if (sandbox_mailbox(sb)->next_slot[i])
			sandbox_mailbox(sb)->next_slot[i] = 0;
	}
	/* Going between the two states: where they differ too. */
	differ = m->at_snapshot != to_snapshot ? m->snap->pages : NULL;
	for (w = 0; w < words; w++) {
		/*
		 * A bit a submitter sets after this read is taken by the next
		 * put-back, as one set after the exchange would be.
		 */
		mask = __atomic_load_n(&m->written[w], __ATOMIC_RELAXED) ?
		       __atomic_exchange_n(&m->written[w], 0,
					   __ATOMIC_RELAXED) : 0;
		if (differ)
			mask |= differ[w];
		/* Most words of a large memory: nothing to put back. */
		if (!mask)
			continue;
		kept = 0;
		for (word = mask; word; word &= word - 1) {
			page = w * 64 + __builtin_ctzll(word);
			if (page * PAGE >= sb->io_base && page * PAGE < io_end) {
				put_back_io_page(sb, page, keep);
				/* Still written, until its slot is free. */
				kept |= word & -word;
				continue;
			}
			src = to_snapshot && page_in(m->snap->pages, page) ?
			      snapshot_page(m->snap, page) : NULL;
			put_back_page(sb, page, src);
		}
		if (kept)
			__atomic_fetch_or(&m->written[w], kept, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&sb->lock);
	m->at_snapshot = to_snapshot;
	m->entered = false;
	return 0;
}

struct sandbox_snapshot *sandbox_snapshot_alloc(void)
{
	struct sandbox_snapshot *snap = calloc(1, sizeof(*snap));

	if (snap) {
		snap->refs = 1;
		snap->template_fd = -1;
	}
	return snap;
}

void sandbox_snapshot_get(struct sandbox_snapshot *snap)
{
	__atomic_fetch_add(&snap->refs, 1, __ATOMIC_RELAXED);
}

void sandbox_snapshot_put(struct sandbox_snapshot *snap)
{
	if (!snap || __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL))
		return;
	free(snap->pages);
	free(snap->index);
	free(snap->data);
	callbox_vcpu_state_free(&snap->vcpu);
	if (snap->template_fd >= 0)
		close(snap->template_fd);
	free(snap);
}

/* The pages of the I/O buffers, [*first, *end). */
static void io_pages(const struct callbox_sandbox *sb, uint64_t *first,
		     uint64_t *end)
{
	*first = sb->io_base / PAGE;
	*end = (sb->io_base + callbox_io_size(sb->cfg.input_size,
					      sb->cfg.output_size,
					      sb->cfg.max_calls) +
		PAGE - 1) / PAGE;
}

/* Zero [@start, @end) of guest memory where @copy, a copy of @page, has it. */
static void clear_range(uint64_t page, char *copy, uint64_t start,
			uint64_t end)
{
	if (start < page * PAGE)
		start = page * PAGE;
	if (end > (page + 1) * PAGE)
		end = (page + 1) * PAGE;
	if (start < end)
		memset(copy + (start - page * PAGE), 0, end - start);
}

void sandbox_snapshot_clear_calls(uint64_t page, char *copy)
{
	const uint64_t mailbox = CALLBOX_GPA_MAILBOX;

	clear_range(page, copy,
		    mailbox + offsetof(struct callbox_mailbox, slot),
		    mailbox + offsetof(struct callbox_mailbox, slot) +
		    sizeof(uint32_t));
	clear_range(page, copy,
		    mailbox + offsetof(struct callbox_mailbox, fault),
		    mailbox + sizeof(struct callbox_mailbox));
}

/*
 * The guest as it is now into @snap, with run_lock held and no call able
 * to enter: every page that can differ from the image as loaded (those
 * that did at the last put-back, those written since, the header), and
 * the whole vCPU state. Not the I/O buffers, nor what the mailbox holds of
 * calls (sandbox_snapshot_clear_calls()): the requests and results of
 * calls are never part of a restore point, which fresh calls, clones and
 * snapshot files carry to other requests.
 */
static int snapshot_build(struct callbox_sandbox *sb,
			  struct sandbox_snapshot *snap, char *err,
			  size_t errlen)
{
	struct sandbox_memory *m = &sb->memory;
	size_t w, n, words = callbox_vm_dirty_words(sb->vm.mem_size);
	uint64_t word, page, io_first, io_end;
	int ret;

	ret = callbox_vm_flush_exit(&sb->vm, err, errlen);
	if (!ret)
		ret = collect_written(sb, err, errlen);
	if (ret)
		return ret;
	mark_header(m->written);

	snap->pages = calloc(words, sizeof(uint64_t));
	if (!snap->pages)
		return kvm_fail(err, errlen, -ENOMEM, "snapshot");
	for (w = 0, n = 0; w < words; w++) {
		snap->pages[w] = __atomic_load_n(&m->written[w],
						 __ATOMIC_RELAXED);
		if (m->at_snapshot)
			snap->pages[w] |= m->snap->pages[w];
	}
	io_pages(sb, &io_first, &io_end);
	for (page = io_first; page < io_end; page++)
		snap->pages[page / 64] &= ~(1ull << (page % 64));
	for (w = 0, n = 0; w < words; w++)
		n += __builtin_popcountll(snap->pages[w]);
	snap->index = calloc(n, sizeof(*snap->index));
	snap->data = malloc(n * PAGE);
	if (!snap->index || !snap->data)
		return kvm_fail(err, errlen, -ENOMEM, "snapshot");
	for (w = 0; w < words; w++) {
		for (word = snap->pages[w]; word; word &= word - 1) {
			page = w * 64 + __builtin_ctzll(word);
			snap->index[snap->nr] = page;
			memcpy(snap->data + snap->nr * PAGE,
			       (char *)sb->vm.mem + page * PAGE, PAGE);
			sandbox_snapshot_clear_calls(page,
						     snap->data + snap->nr * PAGE);
			snap->nr++;
		}
	}
	return callbox_vcpu_state_save(sb->vm.vcpu_fd, &snap->vcpu, err,
				       errlen);
}

/*
 * Memory is @snap now: it becomes the restore point, and nothing counts
 * as written since but the I/O buffers (not in @snap), which outstanding
 * calls hold and which are zeroed once their slots are free
 * (put_back_io_page()).
 */
static void snapshot_install(struct callbox_sandbox *sb,
			     struct sandbox_snapshot *snap)
{
	struct sandbox_memory *m = &sb->memory;
	size_t w, words = callbox_vm_dirty_words(sb->vm.mem_size);

	/* Submitters note their writes meanwhile: atomically. */
	for (w = 0; w < words; w++)
		__atomic_fetch_and(&m->written[w], ~snap->pages[w],
				   __ATOMIC_RELAXED);
	sandbox_snapshot_put(m->snap);
	m->snap = snap;
	m->at_snapshot = true;
	m->entered = false;
}

int sandbox_snapshot_take(struct callbox_sandbox *sb, char *err,
			  size_t errlen)
{
	struct sandbox_memory *m = &sb->memory;
	struct sandbox_snapshot *snap;
	int ret;

	m->written = calloc(callbox_vm_dirty_words(sb->vm.mem_size),
			    sizeof(uint64_t));
	snap = sandbox_snapshot_alloc();
	if (!m->written || !snap) {
		free(snap);
		return kvm_fail(err, errlen, -ENOMEM, "snapshot");
	}
	ret = snapshot_build(sb, snap, err, errlen);
	if (ret) {
		sandbox_snapshot_put(snap);
		return ret;
	}
	snapshot_install(sb, snap);
	return 0;
}

/*
 * BEGIN of CALLBOX_SANDBOX_RESTORE for @what: the restore's id in *@id,
 * and 1 if the sandbox is poisoned, else 0; -errno, with why, if refused.
 */
static int fence_begin(struct callbox_sandbox *sb, const char *what,
		       uint64_t *id)
{
	int ret = callbox_sandbox_restore_fd(sb->sandbox_fd,
					     CALLBOX_RESTORE_BEGIN, id);

	if (ret < 0)
		sandbox_fail(sb, ret, "%s: CALLBOX_SANDBOX_RESTORE: %s%s", what,
			     strerror(-ret), ret == -EBUSY ?
			     " (a call is current, or an init call pending)" :
			     "");
	return ret;
}

int callbox_sandbox_snapshot(struct callbox_sandbox *sb)
{
	struct sandbox_snapshot *snap;
	uint64_t id = 0;
	char err[256];
	int ret;

	sandbox_begin(sb);
	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "no guest loaded");
	ret = sandbox_run_lock(sb, "snapshot");
	if (ret)
		return ret;

	/* No call can change the guest until the fence is lifted. */
	ret = fence_begin(sb, "snapshot", &id);
	if (ret < 0)
		goto out_unlock;
	if (ret || !sb->ready) {
		/* As it was: poisoned, and ABANDON keeps it so. */
		callbox_sandbox_restore_fd(sb->sandbox_fd,
					   CALLBOX_RESTORE_ABANDON, &id);
		ret = sandbox_fail(sb, -ENOTRECOVERABLE,
				   "snapshot: the guest stopped in the middle of a call, or its init failed: restore or reset it first");
		goto out_unlock;
	}

	snap = sandbox_snapshot_alloc();
	ret = snap ? snapshot_build(sb, snap, err, sizeof(err)) :
	      kvm_fail(err, sizeof(err), -ENOMEM, "snapshot");
	if (ret) {
		sandbox_snapshot_put(snap);
		sandbox_fail(sb, ret, "snapshot: %s", err);
	} else {
		snapshot_install(sb, snap);
	}
	/* The guest was ready, and nothing changed it: it still is. */
	callbox_sandbox_restore_fd(sb->sandbox_fd, CALLBOX_RESTORE_COMMIT,
				   &id);
out_unlock:
	pthread_mutex_unlock(&sb->run_lock);
	return ret;
}

void sandbox_memory_free(struct sandbox_memory *m)
{
	free(m->written);
	sandbox_snapshot_put(m->snap);
	memset(m, 0, sizeof(*m));
}

int sandbox_restore_locked(struct callbox_sandbox *sb)
{
	uint64_t id = 0;
	char err[256];
	int ret;

	/* Refused while a call is current: then nothing is touched. */
	ret = fence_begin(sb, "restore", &id);
	if (ret < 0)
		return ret;

	ret = callbox_vm_flush_exit(&sb->vm, err, sizeof(err));
	if (!ret)
		ret = sandbox_memory_put_back(sb, true, err, sizeof(err));
	/*
	 * The page tables were put back behind KVM's back: KVM drops every
	 * translation it holds, whatever the guest did with CR3 meanwhile.
	 */
	if (!ret)
		ret = callbox_vcpu_state_load(sb->vm.vcpu_fd, sb->vm.run,
					      true, &sb->memory.snap->vcpu,
					      true, err, sizeof(err));
	if (ret) {
		/* Half put back: the kernel refuses calls until a reset. */
		callbox_sandbox_restore_fd(sb->sandbox_fd,
					   CALLBOX_RESTORE_ABANDON, &id);
		sb->ready = false;
		return sandbox_fail(sb, ret, "restore: %s", err);
	}
	ret = callbox_sandbox_restore_fd(sb->sandbox_fd, CALLBOX_RESTORE_COMMIT,
					 &id);
	if (ret)
		return sandbox_fail(sb, ret,
				    "restore: CALLBOX_RESTORE_COMMIT: %s",
				    strerror(-ret));
	/* As after an init that succeeded; the kernel lifted any poison. */
	sb->ready = true;
	sb->memory.entered = false;
	return 0;
}

int callbox_sandbox_restore(struct callbox_sandbox *sb)
{
	int ret;

	sandbox_begin(sb);
	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "no guest loaded");

	ret = sandbox_run_lock(sb, "restore");
	if (ret)
		return ret;
	ret = sandbox_restore_locked(sb);
	pthread_mutex_unlock(&sb->run_lock);
	return ret;
}
