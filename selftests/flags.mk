# SPDX-License-Identifier: GPL-2.0
#
# What every collection's programs need, after lib.mk: the library and
# the public headers from $(CALLBOX_BUILD), and the flags. The user's CFLAGS,
# CPPFLAGS and LDFLAGS arrive on the command line; "override" adds to them
# instead of being ignored.

LIB_A := $(CALLBOX_BUILD)/libcallbox.a
RAW_GUEST_OBJ := $(CALLBOX_BUILD)/tools/raw_guest.o

# The harness is a system header (-isystem), but clang still warns about
# the parameters its TEST() macro leaves unused, in the test's own code.
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	$(if $(filter 1,$(WERROR)),-Werror) -D_GNU_SOURCE -isystem $(KSFT) \
	-MMD -MP

# lib.mk's rule, but for the dependency files: the headers they add to a
# program's prerequisites are not linked.
$(OUTPUT)/%: %.c $(LOCAL_HDRS)
	$(LINK.c) $(filter %.c %.o %.a,$^) $(LDLIBS) -o $@

# Each program's dependency file, written by -MMD beside it.
-include $(TEST_GEN_PROGS:=.d) $(TEST_GEN_PROGS_EXTENDED:=.d)
