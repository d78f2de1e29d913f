// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the guest's export table, the functions it offers with
 * their signatures. The guest publishes it during its init; it is read
 * once, at the load, as hostile input, and fixed from then on, so calls
 * are checked against it without a lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

static int export_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sandbox_export *)a)->name,
		      ((const struct sandbox_export *)b)->name);
}

/* bsearch()'s order: @key is the name looked for, not an export. */
static int export_name_cmp(const void *key, const void *export)
{
	return strcmp(key, ((const struct sandbox_export *)export)->name);
}

/*
 * The export named @name, or NULL; the table is sorted by name. Every
 * call looks its function up, so @name is compared where it is, not
 * measured and copied into an export first.
 */
const struct sandbox_export *sandbox_find_export(struct callbox_sandbox *sb,
						 const char *name)
{
	if (!sb->nr_exports)
		return NULL;
	return bsearch(name, sb->exports, sb->nr_exports,
		       sizeof(*sb->exports), export_name_cmp);
}

int callbox_sandbox_export(const struct callbox_sandbox *sb,
			   unsigned int index, char *buf, size_t len)
{
	sandbox_begin(sb);
	if (index >= sb->nr_exports) {
		if (len)
			buf[0] = '\0';
		return sandbox_fail(sb, -ENOENT,
				    "export %u: the guest exports %u functions",
				    index, sb->nr_exports);
	}
	callbox_signature_format(&sb->exports[index].sig,
				 sb->exports[index].name, buf, len);
	return 0;
}

/*
 * Take the exports the guest published during its init call: their
 * number from the mailbox, the table from the host call's output buffer.
 * All of it is hostile; a bad entry fails the load, so that no call is
 * ever checked against a signature we could not read.
 */
int sandbox_read_exports(struct callbox_sandbox *sb)
{
	const struct callbox_export_desc *table =
		sandbox_io_output(sb, sandbox_hostcall_index(sb));
	uint64_t room = sb->cfg.output_size / sizeof(*table);
	uint32_t n = sandbox_mailbox(sb)->nr_exports;

	if (n > room || n > CALLBOX_MAX_EXPORTS)
		return sandbox_fail(sb, -EPROTO,
				    "guest init: the guest claims %" PRIu32 " exports, more than the %" PRIu64 " that fit its table",
				    n, room < CALLBOX_MAX_EXPORTS ? room :
				    CALLBOX_MAX_EXPORTS);
	return sandbox_set_exports(sb, table, n, "guest init");
}

int sandbox_set_exports(struct callbox_sandbox *sb,
			const struct callbox_export_desc *table, uint32_t n,
			const char *what)
{
	struct callbox_export_desc desc;
	struct sandbox_export *exports;
	char err[256];
	uint32_t i;
	int ret;

	exports = calloc(n ? n : 1, sizeof(*exports));
	if (!exports)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		memcpy(&desc, &table[i], sizeof(desc));
		ret = callbox_signature_from_desc(&desc, &exports[i].sig,
						  exports[i].name, err,
						  sizeof(err));
		if (ret) {
			free(exports);
			return sandbox_fail(sb, ret,
					    "%s: export %" PRIu32 " is malformed: %s",
					    what, i + 1, err);
		}
	}
	/* By name, so that listings do not depend on the guest's link order. */
	qsort(exports, n, sizeof(*exports), export_cmp);
	for (i = 1; i < n; i++) {
		if (!strcmp(exports[i - 1].name, exports[i].name)) {
			ret = sandbox_fail(sb, -EPROTO,
					   "%s: the guest exports %s twice",
					   what, exports[i].name);
			free(exports);
			return ret;
		}
	}
	free(sb->exports);
	sb->exports = exports;
	sb->nr_exports = n;
	return 0;
}
