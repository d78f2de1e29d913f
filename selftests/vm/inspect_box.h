/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The inspection suites' sandbox (inspect_test, inspect_files_test,
 * inspect_killed_test): one of the scripted guest, with its id and the
 * counters and object counts taken before it, to compare against.
 */
#ifndef CALLBOX_INSPECT_BOX_H
#define CALLBOX_INSPECT_BOX_H

#include "inspect_util.h"

#define S_Q	CALLBOX_STATE_QUEUED
#define S_E	CALLBOX_STATE_ENTERED
#define S_H	CALLBOX_STATE_HOSTCALL
#define S_X	CALLBOX_STATE_EXITED
#define S_A	CALLBOX_STATE_ABORTED
#define F_RAN	CALLBOX_CALL_GUEST_RAN
#define F_POIS	CALLBOX_CALL_POISONED
#define F_INIT	CALLBOX_CALL_INIT

static inline bool is_live(uint32_t state)
{
	return state == S_Q || state == S_E || state == S_H;
}

/* A sandbox of the scripted guest, its id and a baseline taken before it. */
struct ibox {
	struct cb_counters base;
	struct cb_objects obj_base;
	struct box b;
	uint64_t id;
};

static inline void ibox_open(struct __test_metadata *_metadata, struct ibox *ib)
{
	box_init(&ib->b);
	if (!path_exists("/dev/callbox"))
		SKIP(return, "/dev/callbox is missing");
	if (debugfs_ready())
		SKIP(return, "no debugfs");
	counters_read_ok(&ib->base);
	objects_read_ok(&ib->obj_base);
	box_open(_metadata, &ib->b, guest_script, sizeof(guest_script), true);
	return_if_setup_skipped();
	ib->id = sandbox_id_of(ib->b.fd);
	ASSERT_NE(0, ib->id);
	ASSERT_TRUE(sandbox_dir_exists(ib->id));
}

/* Close the sandbox fd now (box_close() leaves it then). */
static inline void ibox_close_fd(struct ibox *ib)
{
	if (ib->b.fd >= 0)
		close(ib->b.fd);
	ib->b.fd = -1;
}

/* Gone: no debugfs dir, and no sandbox or call object left. */
static inline void expect_gone(struct __test_metadata *_metadata,
			       const struct ibox *ib)
{
	struct cb_objects o;

	EXPECT_FALSE(sandbox_dir_exists(ib->id));
	objects_read_ok(&o);
	EXPECT_EQ(ib->obj_base.sandboxes, o.sandboxes);
	EXPECT_EQ(ib->obj_base.calls, o.calls);
}

#endif /* CALLBOX_INSPECT_BOX_H */
