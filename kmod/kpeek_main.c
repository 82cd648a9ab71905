// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_main.c - module init and exit: bring the channels up in order and take them down in
 * reverse. Each step is numbered so that the debug parameter fail_init_step=N can make init
 * fail in place of step N; the test suite does that for every N to prove the unwinding.
 */
#include <linux/init.h>
#include <linux/module.h>
#include "kpeek_internal.h"

struct kpeek_step {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
};

/*
 * sysfs first: creating a group adds its directory there. configfs, the first way for user space
 * to create groups, comes after every channel that shows them; the module notifier (core) once
 * groups can exist at all. Then the fast channels: rings before the probes that write into them,
 * and /dev/kpeek, which reaches all of them, last. At exit the probes are unregistered (and
 * their callers waited for) before the rings and counters they write to are freed.
 */
static const struct kpeek_step kpeek_steps[] = {
	{ "sysfs", kpeek_sysfs_init, kpeek_sysfs_exit },
	{ "procfs", kpeek_procfs_init, kpeek_procfs_exit },
	{ "debugfs", kpeek_debugfs_init, kpeek_debugfs_exit },
	{ "configfs", kpeek_configfs_init, kpeek_configfs_exit },
	{ "core", kpeek_core_init, kpeek_core_exit },
	{ "ring", kpeek_ring_init, kpeek_ring_exit },
	{ "probes", kpeek_probes_init, kpeek_probes_exit },
	{ "mmap", kpeek_mmap_init, kpeek_mmap_exit },
	{ "chardev", kpeek_chardev_init, kpeek_chardev_exit },
	/* Last: its notify hooks and commands use the core; unregistered first at exit. */
	{ "netlink", kpeek_netlink_init, kpeek_netlink_exit },
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
			pr_info("kpeek: failing init at step %d (%s) as asked by fail_init_step\n",
				i + 1, kpeek_steps[i].name);
			err = -ECANCELED;
			goto err_unwind;
		}
		err = kpeek_steps[i].init();
		if (err) {
			pr_err("kpeek: init step %d (%s) failed: %d\n", i + 1, kpeek_steps[i].name,
			       err);
			goto err_unwind;
		}
	}
	/* One step past the last: everything was up, and all of it must come down again. */
	if (kpeek_fail_init_step == i + 1) {
		pr_info("kpeek: failing init after the last step as asked by fail_init_step\n");
		err = -ECANCELED;
		goto err_unwind;
	}
	pr_info("kpeek: ABI %d, max_groups=%u max_counters=%u\n", KPEEK_ABI_VERSION,
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
