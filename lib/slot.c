// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the slot table. Each outstanding call holds one mailbox slot
 * (callbox/abi.h), and with it a pair of I/O buffers, from its request
 * until its outcome has been collected, so a result stays where the guest
 * wrote it until its caller has read it. A submitted call's slot also
 * remembers its id, whether a runner took it, and what a guest abort
 * left. Everything here is under sb->lock.
 */
#include <errno.h>
#include <string.h>

#include "sandbox.h"

/* A free slot, taken; or -EAGAIN if config.max_calls are in use. */
int sandbox_slot_alloc_locked(struct callbox_sandbox *sb)
{
	unsigned int i;

	for (i = 0; i < sb->cfg.max_calls; i++) {
		if (!sb->slots[i].used) {
			memset(&sb->slots[i], 0, sizeof(sb->slots[i]));
			sb->slots[i].used = true;
			return (int)i;
		}
	}
	return -EAGAIN;
}

/* The call in @slot was collected: the slot is free for the next one. */
void sandbox_slot_free(struct callbox_sandbox *sb, int slot)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->slots[slot].kept)
		sandbox_memory_clear_slot(sb, slot);
	sb->slots[slot].used = false;
	sb->slots[slot].id = 0;
	pthread_mutex_unlock(&sb->lock);
}

/* The slot of submitted call @id, or -ENOENT. */
int sandbox_slot_find_locked(struct callbox_sandbox *sb, uint64_t id)
{
	unsigned int i;

	for (i = 0; id && i < sb->cfg.max_calls; i++) {
		if (sb->slots[i].used && sb->slots[i].id == id)
			return (int)i;
	}
	return -ENOENT;
}

/* The slot of the oldest submitted call no runner took yet, or -ENOENT. */
int sandbox_slot_next_locked(struct callbox_sandbox *sb)
{
	int i, next = -ENOENT;

	for (i = 0; i < (int)sb->cfg.max_calls; i++) {
		const struct sandbox_slot *s = &sb->slots[i];

		if (s->used && s->id && !s->started &&
		    (next < 0 || s->id < sb->slots[next].id))
			next = i;
	}
	return next;
}
