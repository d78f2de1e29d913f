// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: KVM's dirty log of guest memory, for the reset and the
 * restore, which put back only the pages the guest wrote.
 *
 * KVM learns of a write by write-protecting the page: the first write to
 * it after each collection takes a fault, an exit to the host kernel. A
 * request writes some pages every time (its stack, the mailbox, its I/O
 * buffers), and with a restore before every call those faults cost more
 * than the restore's copies. So with KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
 * which lets the process choose which reported pages KVM protects again
 * (KVM_CLEAR_DIRTY_LOG), a page written in two collections in a row is
 * left writable: it is *hot*, and counts as written at every collection
 * from then on (KVM keeps its bit set), so it is always put back, for a
 * copy of 4 KiB instead of a fault. At most CALLBOX_DIRTY_LOG_MAX_HOT
 * pages are hot, which bounds what every restore copies.
 *
 * Measured under TCG (December 2026; a noop call of arith.elf with
 * CALLBOX_CONFIG_FRESH_CALLS against a plain one, three interleaved runs
 * of 300 calls): 7.0-7.9x with KVM protecting every reported page, 3.2-6.0x
 * with hot pages. Where the time went before (per restore, one run):
 * 263 us in the restore itself (KVM_SET_MSRS 62, the copies 77,
 * KVM_GET_DIRTY_LOG 21, the other vCPU state 60, the rest ioctls of ours
 * and KVM_RUN to finish the last exit) and about 210 us more in the call
 * that followed, which the write faults on its stack, mailbox and I/O
 * pages explain. The dirty ring (KVM_CAP_DIRTY_LOG_RING) was not tried:
 * it reports the same first writes, through the same faults.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "dirty_log.h"
#include "kvm_ioctl.h"

#define PAGE_SIZE	4096u

int callbox_dirty_log_init(struct callbox_dirty_log *log, int vm_fd,
			   uint64_t mem_size, char *err, size_t errlen)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};
	int ret;

	*log = (struct callbox_dirty_log) {
		.pages = mem_size / PAGE_SIZE,
		.words = (mem_size / PAGE_SIZE + 63) / 64,
	};
	log->dirty = calloc(log->words, sizeof(uint64_t));
	log->hot = calloc(log->words, sizeof(uint64_t));
	log->prev = calloc(log->words, sizeof(uint64_t));
	log->clear = calloc(log->words, sizeof(uint64_t));
	if (!log->dirty || !log->hot || !log->prev || !log->clear)
		return kvm_fail(err, errlen, -ENOMEM, "dirty page bitmaps");

	/* Before the slot exists, so that KVM never protects on its own. */
	ret = kvm_ioctl(vm_fd, KVM_CHECK_EXTENSION,
			(void *)KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (ret > 0 && (ret & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		ret = kvm_ioctl(vm_fd, KVM_ENABLE_CAP, &cap);
		if (ret < 0)
			return kvm_fail(err, errlen, ret,
					"KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2)");
		log->manual = true;
	}
	return 0;
}

/*
 * Which of the reported pages KVM protects again (the others stay hot):
 * into log->clear, with the words that hold any in [*first, *end). A word
 * with nothing reported now or last time is left alone: its clear and
 * prev are zero already (prev is the last clear), and most words of a
 * large memory are such words.
 */
static bool choose_clear(struct callbox_dirty_log *log, size_t *first,
			 size_t *end)
{
	uint64_t again, bit;
	bool any = false;
	size_t w;

	for (w = 0; w < log->words; w++) {
		if (!log->dirty[w] && !log->prev[w])
			continue;
		/* Written last time too: leave it writable, while there is room. */
		again = log->dirty[w] & log->prev[w] & ~log->hot[w];
		for (; again && log->nr_hot < CALLBOX_DIRTY_LOG_MAX_HOT;
		     again &= again - 1) {
			bit = again & -again;
			log->hot[w] |= bit;
			log->nr_hot++;
		}
		log->clear[w] = log->dirty[w] & ~log->hot[w];
		log->prev[w] = log->clear[w];
		if (!log->clear[w])
			continue;
		if (!any)
			*first = w;
		*end = w + 1;
		any = true;
	}
	return any;
}

int callbox_dirty_log_collect(struct callbox_dirty_log *log, int vm_fd,
			      char *err, size_t errlen)
{
	struct kvm_dirty_log get = {
		.slot = 0,
		.dirty_bitmap = log->dirty,
	};
	struct kvm_clear_dirty_log clear = { .slot = 0 };
	size_t first, end;
	int ret;

	/* Without manual protection, KVM protects what it reports. */
	ret = kvm_ioctl(vm_fd, KVM_GET_DIRTY_LOG, &get);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_GET_DIRTY_LOG");
	if (!log->manual || !choose_clear(log, &first, &end))
		return 0;
	/*
	 * Only the words that protect anything: KVM copies in and walks
	 * the whole range it is given, which for all of 256 MiB took 19-22
	 * us a call under TCG, against 2 us for one word (December 2026). A
	 * range starts at a multiple of 64 pages and spans a multiple of 64,
	 * but for one that ends at the end of the slot.
	 */
	clear.first_page = first * 64;
	clear.num_pages = (uint32_t)((end * 64 < log->pages ? end * 64 :
				      log->pages) - clear.first_page);
	clear.dirty_bitmap = &log->clear[first];
	ret = kvm_ioctl(vm_fd, KVM_CLEAR_DIRTY_LOG, &clear);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "KVM_CLEAR_DIRTY_LOG");
	return 0;
}

void callbox_dirty_log_free(struct callbox_dirty_log *log)
{
	free(log->dirty);
	free(log->hot);
	free(log->prev);
	free(log->clear);
	*log = (struct callbox_dirty_log) { 0 };
}
