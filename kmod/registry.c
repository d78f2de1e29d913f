// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: every live sandbox by id, for the inspection interfaces.
 *
 * A sandbox is entered when its creation succeeds and leaves when its fd
 * is released (or, at the latest, with its last reference). A lookup
 * takes a reference with kref_get_unless_zero() under the xarray's lock,
 * which the removal also takes, so it never finds freed memory.
 *
 * Ids come from a 64-bit counter: never reused while the module is
 * loaded, whatever the rate of creation.
 */
#include <linux/atomic.h>
#include <linux/xarray.h>

#include "callbox.h"

static DEFINE_XARRAY(callbox_sandboxes);
static atomic64_t callbox_last_sandbox_id = ATOMIC64_INIT(0);
/*
 * Moves whenever a sandbox comes or goes: dumps check it. Bumped under the
 * xarray's lock, with the change: a walk that saw a change (it takes that
 * lock for each step) then reads the count moved. Bumped after the lock
 * was dropped, a walk could see two changes and the count of neither, and
 * list a set of sandboxes that never lived at once. Starts at 1: netlink
 * takes a sequence of 0 for "not set".
 */
static atomic_long_t callbox_registry_changes = ATOMIC_LONG_INIT(1);
static atomic_long_t callbox_registry_size = ATOMIC_LONG_INIT(0);

/* Give @sb its id and make it findable. */
int callbox_registry_add(struct callbox_sandbox *sb)
{
	int ret;

	sb->id = atomic64_inc_return(&callbox_last_sandbox_id);
	xa_lock(&callbox_sandboxes);
	ret = __xa_insert(&callbox_sandboxes, sb->id, sb, GFP_KERNEL_ACCOUNT);
	if (!ret)
		atomic_long_inc(&callbox_registry_changes);
	xa_unlock(&callbox_sandboxes);
	if (ret) {
		/* A sandbox with no id was never seen (see shutdown). */
		sb->id = 0;
		return ret;
	}
	atomic_long_inc(&callbox_registry_size);
	return 0;
}

/* Make @sb unfindable; again, or for a sandbox never added, does nothing. */
void callbox_registry_remove(struct callbox_sandbox *sb)
{
	struct callbox_sandbox *gone;

	if (!sb->id)
		return;
	xa_lock(&callbox_sandboxes);
	gone = __xa_erase(&callbox_sandboxes, sb->id);
	if (gone == sb)
		atomic_long_inc(&callbox_registry_changes);
	xa_unlock(&callbox_sandboxes);
	if (gone == sb)
		atomic_long_dec(&callbox_registry_size);
}

/**
 * callbox_registry_next() - the live sandbox with the smallest id >= *@id
 * @id: where to start; set to the id found
 *
 * Return: the sandbox with a reference (put with callbox_sandbox_put()),
 * or NULL if there is none.
 */
struct callbox_sandbox *callbox_registry_next(u64 *id)
{
	unsigned long index = *id;
	struct callbox_sandbox *sb;

	xa_lock(&callbox_sandboxes);
	xa_for_each_start(&callbox_sandboxes, index, sb, *id) {
		/* Freed any moment now: not there any more. */
		if (kref_get_unless_zero(&sb->kref))
			break;
	}
	xa_unlock(&callbox_sandboxes);
	if (sb)
		*id = index;
	return sb;
}

/* The sandbox @id, with a reference; NULL if none lives. */
struct callbox_sandbox *callbox_registry_find(u64 id)
{
	struct callbox_sandbox *sb;

	xa_lock(&callbox_sandboxes);
	sb = xa_load(&callbox_sandboxes, id);
	if (sb && !kref_get_unless_zero(&sb->kref))
		sb = NULL;
	xa_unlock(&callbox_sandboxes);
	return sb;
}

/*
 * The registry's change count. Ordered after the reads of the registry
 * before it (smp_rmb()) and before those after it (acquire), so that the
 * count a dump reads at the start and at the end of its walk bracket it.
 */
unsigned long callbox_registry_seq(void)
{
	/* Pairs with the xarray lock the changes bump the count under. */
	smp_rmb();
	return atomic_long_read_acquire(&callbox_registry_changes);
}

unsigned long callbox_registry_count(void)
{
	return atomic_long_read(&callbox_registry_size);
}
