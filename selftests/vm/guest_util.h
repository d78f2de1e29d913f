/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The small raw guests the suites run (tools/raw_guest.h: real mode, code
 * at RAW_GUEST_CODE): one that spins, one that makes a host call, and
 * one held spinning until the test releases it. callbox_util.h includes
 * this; script_guest.h has the guest that does what a test scripts.
 */
#ifndef CALLBOX_GUEST_UTIL_H
#define CALLBOX_GUEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "callbox_util.h"

/* jmp $ : spins until something forces it out. */
static const uint8_t guest_spinner[] = {
	0xeb, 0xfe,			/* jmp $ */
};

/* Every call: a host call with HOSTCALL_VALUE, then DONE with it. */
#define HOSTCALL_VALUE	0x1234
static const uint8_t guest_hostcaller[] = {
	0x66, 0xb8, 0x34, 0x12, 0x00, 0x00,	/* 0: mov eax, 0x1234 */
	0xba, 0x08, 0xcb,		/* mov dx, CALLBOX_PORT_HOSTCALL */
	0x66, 0xef,			/* out dx, eax */
	0xba, 0x00, 0xcb,		/* mov dx, CALLBOX_PORT_DONE */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xee,			/* jmp 0 */
};

/*
 * Every call takes a host call first if the test set HELD_HOSTCALL_FIRST
 * (status HELD_HOSTCALL_STATUS), then spins until the test sets
 * HELD_RELEASE, clears it, and ends with DONE, its status the number of
 * calls the guest finished (also at HELD_DONE_COUNT): every interruption
 * lands while the guest runs, and the status tells whether it ran a call
 * once. Each turn of the spin counts at HELD_SPINS, so that a test can
 * see guest code running (held_wait_spinning()) instead of guessing how
 * long KVM takes to enter the guest.
 *
 *   start:	mov  al, [0x2000]	; take a host call first?
 *		test al, al
 *		jz   spin
 *		mov  dx, CALLBOX_PORT_HOSTCALL
 *		mov  eax, 7
 *		out  dx, eax
 *   spin:	inc  byte [0x2004]	; the guest runs
 *		mov  al, [0x2001]	; released by the test?
 *		test al, al
 *		jz   spin
 *		mov  byte [0x2001], 0
 *		inc  word [0x2002]	; calls the guest really finished
 *		mov  ax, [0x2002]
 *		movzx eax, ax
 *		mov  dx, CALLBOX_PORT_DONE
 *		out  dx, eax		; status: that count
 *		jmp  start
 */
static const uint8_t guest_held[] = {
	0xa0, 0x00, 0x20, 0x84, 0xc0, 0x74, 0x0b, 0xba, 0x08, 0xcb, 0x66, 0xb8,
	0x07, 0x00, 0x00, 0x00, 0x66, 0xef, 0xfe, 0x06, 0x04, 0x20, 0xa0, 0x01,
	0x20, 0x84, 0xc0, 0x74, 0xf5, 0xc6, 0x06, 0x01, 0x20, 0x00, 0xff, 0x06,
	0x02, 0x20, 0xa1, 0x02, 0x20, 0x66, 0x0f, 0xb7, 0xc0, 0xba, 0x00, 0xcb,
	0x66, 0xef, 0xeb, 0xcc,
};

#define HELD_HOSTCALL_FIRST	0x2000
#define HELD_RELEASE		0x2001
#define HELD_DONE_COUNT		0x2002
#define HELD_SPINS		0x2004
#define HELD_HOSTCALL_STATUS	7

/*
 * Wait until guest_held, in guest memory @mem, is seen spinning: its spin
 * count moves. A KVM_RUN interrupted after this has entered the guest.
 * Returns false if it never moved within WAIT_FOR's time.
 */
static inline bool held_wait_spinning(void *mem)
{
	volatile uint8_t *spins = (volatile uint8_t *)mem + HELD_SPINS;
	uint8_t before = *spins;

	return WAIT_FOR(*spins != before);
}

#endif /* CALLBOX_GUEST_UTIL_H */
