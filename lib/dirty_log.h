/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox internal: which pages of guest memory the guest wrote, from
 * KVM's dirty log, for the reset and the restore to put back.
 */
#ifndef CALLBOX_LIB_DIRTY_LOG_H
#define CALLBOX_LIB_DIRTY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most pages left writable for good (see dirty_log.c). */
#define CALLBOX_DIRTY_LOG_MAX_HOT	64

/**
 * struct callbox_dirty_log - KVM's dirty log of guest memory's slot 0
 * @dirty: a bit a page: the pages the guest may have written since the
 *	last collection (callbox_dirty_log_collect() fills it)
 * @hot: pages written in two collections in a row, which KVM is left to
 *	map writable: they count as written at every collection
 * @prev: the pages written at the last collection, not hot
 * @clear: scratch: the pages KVM is to write-protect again
 * @words: the 64-bit words of each bitmap
 * @pages: the pages of the slot
 * @nr_hot: the bits set in @hot
 * @manual: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is on; without it, KVM
 *	write-protects every page it reports, and nothing is hot
 */
struct callbox_dirty_log {
	uint64_t *dirty;
	uint64_t *hot;
	uint64_t *prev;
	uint64_t *clear;
	size_t words;
	uint64_t pages;
	unsigned int nr_hot;
	bool manual;
};

/*
 * Set up the log of a VM whose slot 0, of @mem_size bytes, is not created
 * yet: -errno and a message on error.
 */
int callbox_dirty_log_init(struct callbox_dirty_log *log, int vm_fd,
			   uint64_t mem_size, char *err, size_t errlen);

/*
 * The pages the guest may have written since the last collection, in
 * @log->dirty (bit N of word N / 64 for the page at N * 4096); writes
 * through the process's own mapping are not seen. -errno and a message.
 */
int callbox_dirty_log_collect(struct callbox_dirty_log *log, int vm_fd,
			      char *err, size_t errlen);

void callbox_dirty_log_free(struct callbox_dirty_log *log);

#endif /* CALLBOX_LIB_DIRTY_LOG_H */
