/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox internal: guest memory against the two states it is put back
 * to, the image as loaded (a reset, which then runs the init again) and
 * the snapshot taken right after the init (a restore).
 */
#ifndef CALLBOX_LIB_SNAPSHOT_H
#define CALLBOX_LIB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vcpu_state.h"

struct callbox_sandbox;

/**
 * struct sandbox_snapshot - the guest at a call boundary: right after its
 *	init at the load, or at callbox_sandbox_snapshot()
 * @pages: a bitmap of the pages that differ from the image as loaded (the
 *	init wrote them) or that the library writes (the mailbox's header)
 * @index: those pages' numbers, in increasing order
 * @data: their contents then, CALLBOX_VM_PAGE_SIZE bytes each, in the
 *	order of @index
 * @nr: how many
 * @vcpu: the vCPU's whole state then
 * @refs: the sandboxes that restore to it (a sandbox and its clones); it
 *	never changes once built
 * @template_fd: a memfd of the whole of guest memory as at the snapshot,
 *	which clones map copy-on-write; -1 until the first clone
 */
struct sandbox_snapshot {
	uint64_t *pages;
	uint64_t *index;
	char *data;
	size_t nr;
	struct callbox_vcpu_state vcpu;
	int refs;
	int template_fd;
};

/**
 * struct sandbox_memory - what guest memory holds
 * @written: a bitmap of the pages the guest wrote (KVM's dirty log, in
 *	the library's hands) since memory was last put back
 * @at_snapshot: memory was last put back to the snapshot (or taken as
 *	it), not to the image as loaded
 * @entered: a call may have entered the guest since it was put back
 * @snap: the restore point
 */
struct sandbox_memory {
	uint64_t *written;
	bool at_snapshot;
	bool entered;
	struct sandbox_snapshot *snap;
};

/* At the load, once the init has exited: take the restore point. */
int sandbox_snapshot_take(struct callbox_sandbox *sb, char *err,
			  size_t errlen);

/*
 * Put guest memory back to the snapshot (@to_snapshot) or to the image as
 * loaded, but for the slots and the I/O area, with run_lock held.
 */
int sandbox_memory_put_back(struct callbox_sandbox *sb, bool to_snapshot,
			    char *err, size_t errlen);

/*
 * Zero @slot's mailbox entry, its link and its I/O buffers, which a
 * put-back kept for the call that held it (sandbox_slot.kept), now that
 * the call is collected; with sb->lock held.
 */
void sandbox_memory_clear_slot(struct callbox_sandbox *sb, int slot);

/*
 * The library wrote @len bytes at @p in guest memory (KVM logs only the
 * guest's writes): a reset or restore must look at those pages too.
 */
void sandbox_memory_note_write(struct callbox_sandbox *sb, const void *p,
			       size_t len);

/*
 * Put the guest back to the snapshot, memory and vCPU, with run_lock held.
 * On failure, no call may run before a reset (sb->ready is false).
 */
int sandbox_restore_locked(struct callbox_sandbox *sb);

void sandbox_memory_free(struct sandbox_memory *m);

/*
 * What the mailbox holds of calls (the slot index, a fault, an abort's and
 * a host call's messages, the log record, the slots), zeroed in @copy, a
 * copy of @page: a restore point holds nothing of any request.
 */
void sandbox_snapshot_clear_calls(uint64_t page, char *copy);

/* A snapshot is shared by a sandbox and its clones (clone.c). */
struct sandbox_snapshot *sandbox_snapshot_alloc(void);
void sandbox_snapshot_get(struct sandbox_snapshot *snap);
void sandbox_snapshot_put(struct sandbox_snapshot *snap);

/*
 * clone.c: write @snap's template (the whole of guest memory as at the
 * snapshot: @sb's image, @snap's pages over it), once.
 */
int sandbox_template_build(struct callbox_sandbox *sb,
			   struct sandbox_snapshot *snap, char *err,
			   size_t errlen);

/*
 * clone.c: boot @sb, a new sandbox with its config, image and exports
 * set, as @snap, whose template exists: its VM maps the template
 * copy-on-write, its vCPU is @snap's, and no init runs. @foreign: @snap
 * comes from a file, whose MSRs must be this host's.
 */
int sandbox_boot_snapshot(struct callbox_sandbox *sb,
			  struct sandbox_snapshot *snap, bool foreign,
			  char *err, size_t errlen);

#endif /* CALLBOX_LIB_SNAPSHOT_H */
