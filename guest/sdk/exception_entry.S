/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Entry stubs for CPU exceptions 0-31. Each pushes a dummy error code if
 * the CPU does not push one, then its vector, so that the common path
 * sees one frame layout (struct callbox_exc_frame in exception.c). The
 * IDT gates run on IST1, the TSS's exception stack, so a stack overflow
 * is handled like any other fault.
 */
#include <callbox/guest.h>

	.section .text, "ax", @progbits

.macro EXC_STUB vec, has_error
	.type	callbox_exc_\vec, @function
callbox_exc_\vec:
	.if \has_error == 0
	pushq	$0
	.endif
	pushq	$\vec
	jmp	callbox_exc_common
	.size	callbox_exc_\vec, . - callbox_exc_\vec
.endm

/* Vectors 8, 10-14, 17, 21, 29 and 30 push an error code. */
EXC_STUB 0, 0
EXC_STUB 1, 0
EXC_STUB 2, 0
EXC_STUB 3, 0
EXC_STUB 4, 0
EXC_STUB 5, 0
EXC_STUB 6, 0
EXC_STUB 7, 0
EXC_STUB 8, 1
EXC_STUB 9, 0
EXC_STUB 10, 1
EXC_STUB 11, 1
EXC_STUB 12, 1
EXC_STUB 13, 1
EXC_STUB 14, 1
EXC_STUB 15, 0
EXC_STUB 16, 0
EXC_STUB 17, 1
EXC_STUB 18, 0
EXC_STUB 19, 0
EXC_STUB 20, 0
EXC_STUB 21, 1
EXC_STUB 22, 0
EXC_STUB 23, 0
EXC_STUB 24, 0
EXC_STUB 25, 0
EXC_STUB 26, 0
EXC_STUB 27, 0
EXC_STUB 28, 0
EXC_STUB 29, 1
EXC_STUB 30, 1
EXC_STUB 31, 0

	.type	callbox_exc_common, @function
callbox_exc_common:
	/* The frame is at rsp; align the stack for the C call. */
	movq	%rsp, %rdi
	andq	$-16, %rsp
	call	callbox_exception
1:	hlt
	jmp	1b
	.size	callbox_exc_common, . - callbox_exc_common

	.section .rodata, "a", @progbits
	.balign	8
	.globl	callbox_exc_stubs
callbox_exc_stubs:
	.irp	vec, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	.quad	callbox_exc_\vec
	.endr

	.section .note.GNU-stack, "", @progbits
