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
/* Changes whenever a sandbox comes or goes: dumps check it. */
static atomic_long_t callbox_registry_changes = ATOMIC_LONG_INIT(1);
static atomic_long_t callbox_registry_size = ATOMIC_LONG_INIT(0);

/* Give @sb its id and make it findable. */
int callbox_registry_add(struct callbox_sandbox *sb)
{
	int ret;

	sb->id = atomic64_inc_return(&callbox_last_sandbox_id);
	ret = xa_insert(&callbox_sandboxes, sb->id, sb, GFP_KERNEL_ACCOUNT);
	if (ret) {
		/* A sandbox with no id was never seen (see shutdown). */
		sb->id = 0;
		return ret;
	}
	atomic_long_inc(&callbox_registry_size);
	atomic_long_inc(&callbox_registry_changes);
	return 0;
}

/* Make @sb unfindable; again, or for a sandbox never added, does nothing. */
void callbox_registry_remove(struct callbox_sandbox *sb)
{
	if (!sb->id || xa_erase(&callbox_sandboxes, sb->id) != sb)
		return;
	atomic_long_dec(&callbox_registry_size);
	atomic_long_inc(&callbox_registry_changes);
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

unsigned long callbox_registry_seq(void)
{
	return atomic_long_read(&callbox_registry_changes);
}

unsigned long callbox_registry_count(void)
{
	return atomic_long_read(&callbox_registry_size);
}
