// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * CPU exceptions in the guest: an IDT whose gates for vectors 0-31 all
 * run on the TSS's IST1 stack, and a handler that reports the fault to
 * the host through the mailbox and aborts the call. Without it, any
 * exception would escalate to a triple fault, which the host can only
 * report as "the vCPU shut down".
 */
#include <callbox/guest.h>

#define IDT_VECTORS	32
#define GATE_INTERRUPT	0x8eull		/* present, DPL 0, 64-bit int gate */
#define GATE_IST1	1ull

/* What the stubs in exception.S and the CPU leave on the IST1 stack. */
struct callbox_exc_frame {
	uint64_t vector;
	uint64_t error_code;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

extern const uint64_t callbox_exc_stubs[IDT_VECTORS];

void callbox_exception(const struct callbox_exc_frame *frame)
	__attribute__((noreturn));

void callbox_exceptions_init(void)
{
	volatile uint64_t *idt = (volatile uint64_t *)CALLBOX_GPA_IDT;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {
		.limit = IDT_VECTORS * 16 - 1,
		.base = CALLBOX_GPA_IDT,
	};
	uint64_t handler;
	unsigned int v;

	for (v = 0; v < IDT_VECTORS; v++) {
		handler = callbox_exc_stubs[v];
		idt[2 * v] = (handler & 0xffff) |
			     (uint64_t)CALLBOX_SEL_CODE << 16 |
			     GATE_IST1 << 32 | GATE_INTERRUPT << 40 |
			     ((handler >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = handler >> 32;
	}
	asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

void callbox_exception(const struct callbox_exc_frame *frame)
{
	volatile struct callbox_mailbox *mb =
		(volatile struct callbox_mailbox *)CALLBOX_GPA_MAILBOX;
	uint64_t cr2;

	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	mb->fault.vector = frame->vector;
	mb->fault.error_code = frame->error_code;
	mb->fault.rip = frame->rip;
	mb->fault.cr2 = cr2;
	mb->fault.rsp = frame->rsp;
	callbox_abort(CALLBOX_GUEST_ABORT_EXCEPTION);
}
