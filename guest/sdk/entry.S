/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The guest's first instruction.
 *
 * The host enters here in 64-bit long mode with paging on (identity map),
 * interrupts off, RIP = _start and RSP = the top of guest memory, which is
 * 16-byte aligned: exactly what the SysV ABI wants just before a call, so
 * no stack set-up is needed.
 */
#include <callbox/guest.h>

	.section .text.entry, "ax", @progbits
	.globl	_start
	.type	_start, @function
_start:
	/* Terminate the frame-pointer chain for debuggers and unwinders. */
	xorl	%ebp, %ebp
	call	callbox_runtime_main

	/* The runtime never returns; if it did, say so and stop. */
	movl	$CALLBOX_GUEST_ABORT_RETURNED, %edi
	call	callbox_abort
1:	hlt
	jmp	1b
	.size	_start, . - _start

	/* The guest has no use for an executable stack; tell the linker. */
	.section .note.GNU-stack, "", @progbits
