/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A scripted raw guest (tools/raw_guest.h) for the suites that need one
 * sandbox to end its calls in every way: each call does what the byte at
 * SCRIPT_CMD says.
 */
#ifndef CALLBOX_SCRIPT_GUEST_H
#define CALLBOX_SCRIPT_GUEST_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Real mode, at RAW_GUEST_CODE. Every call reads the command byte at
 * SCRIPT_CMD and
 *
 *   SCRIPT_DONE      ends with DONE, status SCRIPT_STATUS
 *   SCRIPT_HOSTCALL  makes a host call (SCRIPT_HOSTCALL_VALUE), then DONE
 *   SCRIPT_SPIN      sets the byte at SCRIPT_SPINNING, then spins
 *   SCRIPT_ABORT     writes SCRIPT_ABORT_CODE to CALLBOX_PORT_ABORT
 *   SCRIPT_MULTI     makes host calls with values N, N-1 .. 1 (N the byte
 *                    at SCRIPT_NR_HOSTCALLS), then DONE
 *   SCRIPT_HALT      HLT (no irqchip: KVM_EXIT_HLT)
 *   SCRIPT_BAD_PORT  a 4-byte OUT to port SCRIPT_BAD_PORT_NR
 *   SCRIPT_MMIO      writes a byte at SCRIPT_MMIO_ADDR, where there is
 *                    no memory
 *   SCRIPT_TRIPLE_FAULT  loads an empty IDT (SCRIPT_EMPTY_IDT, zeroes)
 *                    and takes int3: a triple fault
 *   SCRIPT_NO_CODE   jumps to SCRIPT_MMIO_ADDR, where there is no memory
 *                    to fetch code from
 *
 *   start:	mov  al, [0x3000]
 *		cmp  al, 1 / je hostcall ... cmp al, 9 / je nocode
 *   done:	mov  eax, 0x42 / mov dx, 0xcb00 / out dx, eax / jmp start
 *   hostcall:	mov  eax, 7 / mov dx, 0xcb08 / out dx, eax / jmp done
 *   spin:	mov  byte [0x3001], 1 / 1: jmp 1b
 *   abort:	mov  eax, 0x99 / mov dx, 0xcb04 / out dx, eax / jmp start
 *   multi:	movzx ecx, byte [0x3002]
 *	2:	mov  eax, ecx / mov dx, 0xcb08 / out dx, eax
 *		dec  ecx / jnz 2b / jmp done
 *   halt:	hlt / jmp start
 *   badport:	mov  dx, 0x80 / out dx, eax / jmp start
 *   mmio:	mov  ax, 0x2000 / mov es, ax / mov [es:0], al / jmp start
 *   triple:	lidt [0x3010] / int3
 *   nocode:	jmp  0x2000:0
 */
static const uint8_t guest_script[] = {
	0xa0, 0x00, 0x30, 0x3c, 0x01, 0x74, 0x2d, 0x3c, 0x02, 0x74, 0x36, 0x3c,
	0x03, 0x74, 0x39, 0x3c, 0x04, 0x74, 0x42, 0x3c, 0x05, 0x74, 0x52, 0x3c,
	0x06, 0x74, 0x51, 0x3c, 0x07, 0x74, 0x54, 0x3c, 0x08, 0x74, 0x5b, 0x3c,
	0x09, 0x74, 0x5d, 0x66, 0xb8, 0x42, 0x00, 0x00, 0x00, 0xba, 0x00, 0xcb,
	0x66, 0xef, 0xeb, 0xcc, 0x66, 0xb8, 0x07, 0x00, 0x00, 0x00, 0xba, 0x08,
	0xcb, 0x66, 0xef, 0xeb, 0xe6, 0xc6, 0x06, 0x01, 0x30, 0x01, 0xeb, 0xfe,
	0x66, 0xb8, 0x99, 0x00, 0x00, 0x00, 0xba, 0x04, 0xcb, 0x66, 0xef, 0xeb,
	0xab, 0x66, 0x0f, 0xb6, 0x0e, 0x02, 0x30, 0x66, 0x89, 0xc8, 0xba, 0x08,
	0xcb, 0x66, 0xef, 0x66, 0x49, 0x75, 0xf4, 0xeb, 0xbe, 0xf4, 0xeb, 0x94,
	0xba, 0x80, 0x00, 0x66, 0xef, 0xeb, 0x8d, 0xb8, 0x00, 0x20, 0x8e, 0xc0,
	0x26, 0xa2, 0x00, 0x00, 0xeb, 0x82, 0x0f, 0x01, 0x1e, 0x10, 0x30, 0xcc,
	0xea, 0x00, 0x00, 0x00, 0x20,
};

#define SCRIPT_CMD		0x3000
#define SCRIPT_SPINNING		0x3001
#define SCRIPT_NR_HOSTCALLS	0x3002
#define SCRIPT_STATUS		0x42
#define SCRIPT_HOSTCALL_VALUE	7
#define SCRIPT_ABORT_CODE	0x99
#define SCRIPT_BAD_PORT_NR	0x80
#define SCRIPT_MMIO_ADDR	0x20000
#define SCRIPT_EMPTY_IDT	0x3010

enum script_cmd {
	SCRIPT_DONE = 0,
	SCRIPT_HOSTCALL = 1,
	SCRIPT_SPIN = 2,
	SCRIPT_ABORT = 3,
	SCRIPT_MULTI = 4,
	SCRIPT_HALT = 5,
	SCRIPT_BAD_PORT = 6,
	SCRIPT_MMIO = 7,
	SCRIPT_TRIPLE_FAULT = 8,
	SCRIPT_NO_CODE = 9,
};

/* What the next call of @mem's guest does. */
static inline void script_set(void *mem, enum script_cmd cmd)
{
	volatile uint8_t *m = mem;

	m[SCRIPT_SPINNING] = 0;
	m[SCRIPT_CMD] = cmd;
}

/* Has the guest of @mem started to spin (and so run guest code)? */
static inline bool script_spinning(void *mem)
{
	return ((volatile uint8_t *)mem)[SCRIPT_SPINNING];
}

#endif /* CALLBOX_SCRIPT_GUEST_H */
