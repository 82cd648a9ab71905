// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_main.c - module init and exit: bring the channels up in order and take them down in
 * reverse. Each step is numbered so that the debug parameter fail_init_step=N can make init
 * fail in place of step N; the test suite does that for every N to prove the unwinding.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include "kpeek_internal.h"

struct kpeek_step {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
};

/*
 * sysfs first: creating a group adds its directory there; procfs and debugfs only show what
 * exists. The module notifier (core) once groups can exist at all; rings before the probes that
 * write into them; then the interfaces through which user space changes state, last, so that
 * nothing can fail after them: a file opened or a configfs directory made while a later step
 * fails would outlive the module (a failed init frees it whatever references were taken).
 * netlink's commands run and finish inside genl_unregister_family(); /dev/kpeek and configfs,
 * which hand out files and directories, are the last two, configfs (whose mkdir takes a module
 * reference that unwinding cannot revoke) the very last. At exit everything comes down in
 * reverse: the probes are unregistered (and their callers waited for) before the rings and
 * counters they write to are freed.
 */
static const struct kpeek_step kpeek_steps[] = {
	{ "sysfs", kpeek_sysfs_init, kpeek_sysfs_exit },
	{ "procfs", kpeek_procfs_init, kpeek_procfs_exit },
	{ "debugfs", kpeek_debugfs_init, kpeek_debugfs_exit },
	{ "core", kpeek_core_init, kpeek_core_exit },
	{ "ring", kpeek_ring_init, kpeek_ring_exit },
	{ "probes", kpeek_probes_init, kpeek_probes_exit },
	{ "mmap", kpeek_mmap_init, kpeek_mmap_exit },
	{ "peek", kpeek_peek_init, kpeek_peek_exit },
	/* Its notify hooks and commands use the core. */
	{ "netlink", kpeek_netlink_init, kpeek_netlink_exit },
	{ "chardev", kpeek_chardev_init, kpeek_chardev_exit },
	{ "configfs", kpeek_configfs_init, kpeek_configfs_exit },
};

static void kpeek_unwind(int done)
{
	while (done-- > 0)
		kpeek_steps[done].exit();
}

static int __init kpeek_init(void)
{
	int i, err;

	for (i = 0; i < ARRAY_SIZE(kpeek_steps); i++) {
		if (kpeek_fail_init_step == i + 1) {
			pr_info("failing init at step %d (%s) as asked by fail_init_step\n",
				i + 1, kpeek_steps[i].name);
			err = -ECANCELED;
			goto err_unwind;
		}
		err = kpeek_steps[i].init();
		if (err) {
			pr_err("init step %d (%s) failed: %d\n", i + 1, kpeek_steps[i].name,
			       err);
			goto err_unwind;
		}
	}
	/* One step past the last: everything was up, and all of it must come down again. */
	if (kpeek_fail_init_step == i + 1) {
		pr_info("failing init after the last step as asked by fail_init_step\n");
		err = -ECANCELED;
		goto err_unwind;
	}
	pr_info("ABI %d, max_groups=%u max_counters=%u\n", KPEEK_ABI_VERSION,
		kpeek_max_groups, kpeek_max_counters);
	return 0;

err_unwind:
	kpeek_unwind(i);
	return err;
}

static void __exit kpeek_exit(void)
{
	kpeek_unwind(ARRAY_SIZE(kpeek_steps));
}

module_init(kpeek_init);
module_exit(kpeek_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kpeek: counters published through every classic kernel/user channel");
MODULE_AUTHOR("kpeek developers");
MODULE_SOFTDEP("pre: configfs");
