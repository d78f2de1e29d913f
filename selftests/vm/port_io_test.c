// SPDX-License-Identifier: GPL-2.0
/*
 * How the kernel decodes a guest's port I/O, against the "Guest port
 * ABI" of uapi/linux/callbox.h: the guest ends a call with a 32-bit
 * `out dx, eax` to one of callbox's ports; "any other port access that
 * exits to userspace, any IN, and any access whose size is not 4 bytes
 * ends the call ABORTED with CALLBOX_ABORT_BAD_PORT", detail the port,
 * the access size, and whether it was an IN or string I/O.
 *
 * String I/O (OUTS, INS, with or without REP) is never one of the ABI's
 * exits, whatever its port and size: KVM emulates it and exits to
 * userspace with KVM_EXIT_IO like any port access, so it must end
 * BAD_PORT with the port as detail (and the string flag), not as an
 * unexpected exit, and never
 * as DONE or HOSTCALL.
 *
 * Each case is a raw guest (real mode, code at RAW_GUEST_CODE) that makes
 * one port access and then spins; a CALL_SYNC with a deadline runs it,
 * and the outcome must be exactly the one in the table.
 */
#include "callbox_util.h"

/* What string OUTs send: DS:SI points here. INS write here (ES:DI). */
#define DATA_ADDR	0x2000
#define DATA_VALUE	0x1234
#define GUEST_VALUE	0x1234		/* what `out dx, eax` sends */

#define POISONED	(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED)

/* A BAD_PORT abort's detail: the port, the access size, IN and STRING. */
#define PORT_DETAIL(port, size, flags)					\
	((port) | (uint64_t)(size) << CALLBOX_BAD_PORT_SIZE_SHIFT | (flags))

FIXTURE(port_io) {
	struct box b;
};

/*
 * One case: the guest's code, 16-bit real mode, as its comment says, then
 * `jmp $` (0xeb, 0xfe), which the call never gets past; the bytes after it
 * are never reached, so the whole array is loaded. Then the outcome the
 * call must have; @status is 0 unless given.
 */
FIXTURE_VARIANT(port_io) {
	uint8_t code[24];
	uint32_t state;
	uint32_t reason;
	uint64_t detail;
	uint32_t exit_reason;
	uint32_t status;
	uint32_t flags;
};

/* ---- the ABI's exits: a 4-byte `out dx, eax` to one of its ports ---- */

FIXTURE_VARIANT_ADD(port_io, out_eax_done) {
	/* mov eax, GUEST_VALUE; mov dx, CALLBOX_PORT_DONE; out dx, eax */
	.code = { 0x66, 0xb8, 0x34, 0x12, 0x00, 0x00, 0xba, 0x00, 0xcb,
		  0x66, 0xef, 0xeb, 0xfe },
	.state = CALLBOX_STATE_EXITED, .reason = CALLBOX_ABORT_NONE,
	.detail = 0, .exit_reason = KVM_EXIT_IO,
	.status = GUEST_VALUE, .flags = CALLBOX_CALL_GUEST_RAN,
};

FIXTURE_VARIANT_ADD(port_io, out_eax_hostcall) {
	/* mov eax, GUEST_VALUE; mov dx, CALLBOX_PORT_HOSTCALL; out dx, eax */
	.code = { 0x66, 0xb8, 0x34, 0x12, 0x00, 0x00, 0xba, 0x08, 0xcb,
		  0x66, 0xef, 0xeb, 0xfe },
	.state = CALLBOX_STATE_HOSTCALL, .reason = CALLBOX_ABORT_NONE,
	.detail = 0, .exit_reason = KVM_EXIT_IO,
	.status = GUEST_VALUE, .flags = CALLBOX_CALL_GUEST_RAN,
};

FIXTURE_VARIANT_ADD(port_io, out_eax_abort) {
	/* mov eax, GUEST_VALUE; mov dx, CALLBOX_PORT_ABORT; out dx, eax */
	.code = { 0x66, 0xb8, 0x34, 0x12, 0x00, 0x00, 0xba, 0x04, 0xcb,
		  0x66, 0xef, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_GUEST_ABORT,
	.detail = GUEST_VALUE, .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

/* ---- always BAD_PORT: another port, a wrong size, an IN ---- */

FIXTURE_VARIANT_ADD(port_io, out_al_port_80) {
	/* mov dx, 0x80; out dx, al */
	.code = { 0xba, 0x80, 0x00, 0xee, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(0x80, 1, 0), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, out_eax_port_80) {
	/* mov dx, 0x80; out dx, eax */
	.code = { 0xba, 0x80, 0x00, 0x66, 0xef, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(0x80, 4, 0), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, out_al_done) {
	/* mov dx, CALLBOX_PORT_DONE; out dx, al */
	.code = { 0xba, 0x00, 0xcb, 0xee, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 1, 0), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, in_eax_done) {
	/* mov dx, CALLBOX_PORT_DONE; in eax, dx */
	.code = { 0xba, 0x00, 0xcb, 0x66, 0xed, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 4, CALLBOX_BAD_PORT_IN), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, insd_done) {
	/* mov dx, CALLBOX_PORT_DONE; mov di, DATA_ADDR; insd */
	.code = { 0xba, 0x00, 0xcb, 0xbf, 0x00, 0x20, 0x66, 0x6d, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 4, CALLBOX_BAD_PORT_IN), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

/* ---- string OUTs: BAD_PORT, whatever the port and size ---- */

FIXTURE_VARIANT_ADD(port_io, outsb_port_80) {
	/* mov dx, 0x80; mov si, DATA_ADDR; outsb */
	.code = { 0xba, 0x80, 0x00, 0xbe, 0x00, 0x20, 0x6e, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(0x80, 1, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, outsb_done) {
	/* mov dx, CALLBOX_PORT_DONE; mov si, DATA_ADDR; outsb */
	.code = { 0xba, 0x00, 0xcb, 0xbe, 0x00, 0x20, 0x6e, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 1, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, outsw_done) {
	/* mov dx, CALLBOX_PORT_DONE; mov si, DATA_ADDR; outsw */
	.code = { 0xba, 0x00, 0xcb, 0xbe, 0x00, 0x20, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 2, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

/* Four bytes to DONE, but not `out dx, eax`: not the end of a call. */
FIXTURE_VARIANT_ADD(port_io, outsd_done) {
	/* mov dx, CALLBOX_PORT_DONE; mov si, DATA_ADDR; outsd */
	.code = { 0xba, 0x00, 0xcb, 0xbe, 0x00, 0x20, 0x66, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 4, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, outsd_hostcall) {
	/* mov dx, CALLBOX_PORT_HOSTCALL; mov si, DATA_ADDR; outsd */
	.code = { 0xba, 0x08, 0xcb, 0xbe, 0x00, 0x20, 0x66, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_HOSTCALL, 4, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, outsd_abort) {
	/* mov dx, CALLBOX_PORT_ABORT; mov si, DATA_ADDR; outsd */
	.code = { 0xba, 0x04, 0xcb, 0xbe, 0x00, 0x20, 0x66, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_ABORT, 4, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, outsd_port_80) {
	/* mov dx, 0x80; mov si, DATA_ADDR; outsd */
	.code = { 0xba, 0x80, 0x00, 0xbe, 0x00, 0x20, 0x66, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(0x80, 4, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, rep_outsd_once_done) {
	/* mov cx, 1; mov dx, CALLBOX_PORT_DONE; mov si, DATA_ADDR; rep outsd */
	.code = { 0xb9, 0x01, 0x00, 0xba, 0x00, 0xcb, 0xbe, 0x00, 0x20,
		  0xf3, 0x66, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 4, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

/* A repeated INS: KVM keeps its count, so it shows as string I/O. */
FIXTURE_VARIANT_ADD(port_io, rep_insd_twice_done) {
	/* mov cx, 2; mov dx, CALLBOX_PORT_DONE; mov di, DATA_ADDR; rep insd */
	.code = { 0xb9, 0x02, 0x00, 0xba, 0x00, 0xcb, 0xbf, 0x00, 0x20,
		  0xf3, 0x66, 0x6d, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 4,
			      CALLBOX_BAD_PORT_IN | CALLBOX_BAD_PORT_STRING),
	.exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, rep_outsd_twice_done) {
	/* mov cx, 2; mov dx, CALLBOX_PORT_DONE; mov si, DATA_ADDR; rep outsd */
	.code = { 0xb9, 0x02, 0x00, 0xba, 0x00, 0xcb, 0xbe, 0x00, 0x20,
		  0xf3, 0x66, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_DONE, 4, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_VARIANT_ADD(port_io, rep_outsd_twice_hostcall) {
	/*
	 * mov cx, 2; mov dx, CALLBOX_PORT_HOSTCALL; mov si, DATA_ADDR;
	 * rep outsd
	 */
	.code = { 0xb9, 0x02, 0x00, 0xba, 0x08, 0xcb, 0xbe, 0x00, 0x20,
		  0xf3, 0x66, 0x6f, 0xeb, 0xfe },
	.state = CALLBOX_STATE_ABORTED, .reason = CALLBOX_ABORT_BAD_PORT,
	.detail = PORT_DETAIL(CALLBOX_PORT_HOSTCALL, 4, CALLBOX_BAD_PORT_STRING), .exit_reason = KVM_EXIT_IO,
	.flags = POISONED,
};

FIXTURE_SETUP(port_io)
{
	box_open(_metadata, &self->b, variant->code, sizeof(variant->code),
		 true);
}

FIXTURE_TEARDOWN(port_io)
{
	box_close(&self->b);
}

TEST_F_TIMEOUT(port_io, decoded_as_the_abi_says, 60)
{
	struct callbox_call_info c;
	uint32_t *data;

	return_if_setup_skipped();
	data = (uint32_t *)((uint8_t *)self->b.guest.mem + DATA_ADDR);
	data[0] = DATA_VALUE;
	data[1] = DATA_VALUE + 1;

	/* A deadline, so that an access that is not decoded cannot hang. */
	call_sync(self->b.fd, now_ns() + 10000 * MS, &c);
	if (c.state != variant->state || c.reason != variant->reason ||
	    c.detail != variant->detail ||
	    c.exit_reason != variant->exit_reason ||
	    c.status != variant->status || c.flags != variant->flags)
		TH_LOG("got state %u reason %u detail %#llx exit_reason %u status %#x flags %#x",
		       c.state, c.reason, (unsigned long long)c.detail,
		       c.exit_reason, c.status, c.flags);
	EXPECT_EQ(1, c.id);
	EXPECT_EQ(variant->state, c.state);
	EXPECT_EQ(variant->reason, c.reason);
	EXPECT_EQ(variant->detail, c.detail);
	EXPECT_EQ(variant->exit_reason, c.exit_reason);
	EXPECT_EQ(variant->status, c.status);
	EXPECT_EQ(variant->flags, c.flags);
}

TEST_HARNESS_MAIN
