# SPDX-License-Identifier: (GPL-2.0 OR MIT)
#
# Building callbox guests: a makefile fragment.
#
# Included by the top-level Makefile ("include guest/guest.mk"), or run on
# its own from the repository root ("make -f guest/guest.mk"), which builds
# the example guests.
#
# Set GUEST_BUILD before including to choose the output directory. A guest
# NAME.elf is linked from NAME.c and the SDK by one pattern rule:
#
#	$(GUEST_BUILD)/NAME.elf  <-  $(GUEST_BUILD)/obj/NAME.o  <-  DIR/NAME.c
#
# guest/examples is searched for sources by default; add a directory with
#
#	$(eval $(call callbox_guest_dir,selftests/guests))

# Where this fragment lives, taken before anything else is included.
GUEST_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
GUEST_ROOT := $(patsubst %/,%,$(dir $(GUEST_DIR)))
# On our own ("make -f guest/guest.mk") or included by another makefile?
guest_standalone := $(if $(filter-out $(lastword $(MAKEFILE_LIST)),$(MAKEFILE_LIST)),,y)
# Including this file must not change the includer's default goal.
guest_saved_goal := $(.DEFAULT_GOAL)

GUEST_BUILD ?= build/guest
GUEST_CC ?= $(CC)

# Freestanding, non-PIC code at fixed low addresses; no red zone, since the
# SDK may one day take interrupts or exceptions on the guest's stack. A
# frame larger than a page is probed page by page, so that it cannot step
# over the one guard page below the stack onto the I/O buffers. SSE
# stays enabled for guest programs (the host sets CR4.OSFXSR) so that they
# can use floating point where the KVM underneath executes it natively; see
# the SDK's own flags below.
# (GUEST_TARGET_CFLAGS and GUEST_TARGET_LDFLAGS are what an installed
# SDK's callbox-guest.pc gives too.)
GUEST_TARGET_CFLAGS := -ffreestanding -fno-pic -fno-pie -mcmodel=small \
	-mno-red-zone -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fstack-clash-protection
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror $(GUEST_TARGET_CFLAGS) \
	-I$(GUEST_DIR)/include -I$(GUEST_ROOT)/shared/include -I$(GUEST_ROOT)/uapi \
	-MMD -MP

GUEST_LDS := $(GUEST_DIR)/sdk/guest.ld
GUEST_TARGET_LDFLAGS := -nostdlib -static -Wl,--build-id=none \
	-Wl,-z,noexecstack
GUEST_LDFLAGS := $(GUEST_TARGET_LDFLAGS) -Wl,-T,$(GUEST_LDS)
# For the helpers GCC may call on its own (e.g. 128-bit division).
GUEST_LDLIBS := -lgcc

GUEST_SDK_OBJS := $(addprefix $(GUEST_BUILD)/sdk/,entry.o exception_entry.o \
	exception.o runtime.o string.o heap.o libc_alloc.o format.o wire.o)
GUEST_EXAMPLES := arith spin fault host echo strings compute
GUEST_EXAMPLE_ELFS := $(GUEST_EXAMPLES:%=$(GUEST_BUILD)/%.elf)

$(GUEST_BUILD)/sdk/%.o: $(GUEST_DIR)/sdk/%.c
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_BUILD)/sdk/%.o: $(GUEST_DIR)/sdk/%.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

# The wire codec is shared with the host library.
$(GUEST_BUILD)/sdk/wire.o: $(GUEST_ROOT)/shared/wire.c
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

# The SDK runs on every call, so it uses no SSE: it needs none, and some
# KVM implementations run guest code through KVM's instruction emulator,
# which cannot execute most SSE instructions (PVM, as on the development
# machines, ends such a call with KVM_EXIT_INTERNAL_ERROR).
$(GUEST_SDK_OBJS): GUEST_CFLAGS += -mgeneral-regs-only

# Keep GCC from turning the loops of memcpy and memset into calls to
# memcpy and memset. clang does not do that under -ffreestanding, and has
# no such option.
guest_cc_is_clang := $(shell $(GUEST_CC) --version 2>/dev/null | grep -q clang && echo y)
ifneq ($(guest_cc_is_clang),y)
$(GUEST_BUILD)/sdk/string.o: GUEST_CFLAGS += -fno-tree-loop-distribute-patterns
endif

# $(call callbox_guest_dir,DIR): build $(GUEST_BUILD)/obj/NAME.o from
# DIR/NAME.c, so that $(GUEST_BUILD)/NAME.elf can be made.
define callbox_guest_dir
$$(GUEST_BUILD)/obj/%.o: $(1)/%.c
	@mkdir -p $$(@D)
	$$(GUEST_CC) $$(GUEST_CFLAGS) -c $$< -o $$@
endef
$(eval $(call callbox_guest_dir,$(GUEST_DIR)/examples))

# Your own guest, in one command: make guest SRC=path/to/NAME.c builds
# $(GUEST_BUILD)/NAME.elf from it and the SDK.
ifdef SRC
$(eval $(call callbox_guest_dir,$(patsubst %/,%,$(dir $(SRC)))))
endif

.PHONY: guest
guest:
	@test -n "$(SRC)" || { echo "usage: make guest SRC=path/to/NAME.c  (builds $(GUEST_BUILD)/NAME.elf)" >&2; exit 2; }
	@test -f "$(SRC)" || { echo "make guest: $(SRC): no such file" >&2; exit 2; }
	@$(MAKE) --no-print-directory $(if $(guest_standalone),-f $(GUEST_DIR)/guest.mk) \
		$(GUEST_BUILD)/$(basename $(notdir $(SRC))).elf
	@echo "guest: $(GUEST_BUILD)/$(basename $(notdir $(SRC))).elf"

# The SDK as one relocatable object, as it installs (make install): a guest
# links all of it, as it would every object, with none of the archive's
# rules about which members a link pulls in (the export table and _start
# are referred to by nothing but the linker script).
GUEST_SDK := $(GUEST_BUILD)/sdk/callbox-guest.o
$(GUEST_SDK): $(GUEST_SDK_OBJS)
	$(GUEST_CC) -r -nostdlib -o $@ $^

$(GUEST_BUILD)/%.elf: $(GUEST_BUILD)/obj/%.o $(GUEST_SDK) $(GUEST_LDS)
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^) $(GUEST_LDLIBS)

# Objects made by a chain of implicit rules are intermediates, which make
# deletes after the link; keep them for incremental builds and debugging.
.PRECIOUS: $(GUEST_BUILD)/sdk/%.o $(GUEST_BUILD)/obj/%.o $(GUEST_SDK)

.PHONY: guest-examples guest-clean
guest-examples: $(GUEST_EXAMPLE_ELFS)

guest-clean:
	rm -f $(GUEST_EXAMPLE_ELFS) $(GUEST_SDK) $(GUEST_SDK_OBJS) $(GUEST_SDK_OBJS:.o=.d)
	rm -rf $(GUEST_BUILD)/obj

-include $(GUEST_SDK_OBJS:.o=.d) $(wildcard $(GUEST_BUILD)/obj/*.d)

ifeq ($(guest_standalone),y)
.DEFAULT_GOAL := guest-examples
else
.DEFAULT_GOAL := $(guest_saved_goal)
endif
