// SPDX-License-Identifier: GPL-2.0
/*
 * kpeek_example.c - what a driver writes to publish counters with kpeek.ko.
 *
 * /dev/kpeek_example swallows every write and reads as an endless stream of zeros. Each write()
 * adds 1 to `writes` and its length to `bytes_written`; each read() adds 1 to `reads` and the
 * bytes it returned to `bytes_read`. All four live in the kpeek group `kpeek_example`.
 *
 * Unloading is safe while the device is open: fops.owner pins this module for as long as a file
 * is open, so rmmod is refused with EBUSY until the last close.
 */
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>
#include <kpeek.h>

/* One read() returns at most this much: clear_user() of a huge buffer would hog the CPU. */
#define KPEEK_EXAMPLE_READ_MAX SZ_1M

/*
 * Test hook: leave the group behind on unload, so the suite can check that kpeek.ko cleans up
 * after a module that forgets to.
 */
static bool skip_cleanup;
module_param(skip_cleanup, bool, 0444);
MODULE_PARM_DESC(skip_cleanup, "Test: do not destroy the counter group on unload");

static struct kpeek_group *kpeek_example_group;
static struct kpeek_counter *kpeek_example_writes;
static struct kpeek_counter *kpeek_example_bytes_written;
static struct kpeek_counter *kpeek_example_reads;
static struct kpeek_counter *kpeek_example_bytes_read;

static ssize_t kpeek_example_read(struct file *file, char __user *buf, size_t count,
				  loff_t *ppos)
{
	size_t len = min_t(size_t, count, KPEEK_EXAMPLE_READ_MAX);
	size_t left;

	if (!len)
		return 0;
	left = clear_user(buf, len);
	if (left == len)
		return -EFAULT;
	len -= left;
	kpeek_counter_inc(kpeek_example_reads);
	kpeek_counter_add(kpeek_example_bytes_read, len);
	return len;
}

static ssize_t kpeek_example_write(struct file *file, const char __user *buf, size_t count,
				   loff_t *ppos)
{
	kpeek_counter_inc(kpeek_example_writes);
	kpeek_counter_add(kpeek_example_bytes_written, count);
	return count;
}

static const struct file_operations kpeek_example_fops = {
	.owner = THIS_MODULE,
	.read = kpeek_example_read,
	.write = kpeek_example_write,
	.llseek = noop_llseek,
};

static struct miscdevice kpeek_example_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kpeek_example",
	.fops = &kpeek_example_fops,
	.mode = 0600,
};

static struct kpeek_counter *kpeek_example_counter(const char *name, int *err)
{
	struct kpeek_counter *c;

	if (*err)
		return NULL;
	c = kpeek_counter_create(kpeek_example_group, name);
	if (IS_ERR(c)) {
		*err = PTR_ERR(c);
		return NULL;
	}
	return c;
}

static int __init kpeek_example_init(void)
{
	int err = 0;

	kpeek_example_group = kpeek_group_create("kpeek_example");
	if (IS_ERR(kpeek_example_group))
		return PTR_ERR(kpeek_example_group);
	kpeek_example_writes = kpeek_example_counter("writes", &err);
	kpeek_example_bytes_written = kpeek_example_counter("bytes_written", &err);
	kpeek_example_reads = kpeek_example_counter("reads", &err);
	kpeek_example_bytes_read = kpeek_example_counter("bytes_read", &err);
	if (err)
		goto err_group;
	/* Register last: from here on read() and write() may run. */
	err = misc_register(&kpeek_example_dev);
	if (err)
		goto err_group;
	return 0;

err_group:
	kpeek_group_destroy(kpeek_example_group);
	return err;
}

static void __exit kpeek_example_exit(void)
{
	misc_deregister(&kpeek_example_dev);
	/* Not strictly needed (kpeek.ko destroys our leftovers); shown as good manners. */
	if (!skip_cleanup)
		kpeek_group_destroy(kpeek_example_group);
}

module_init(kpeek_example_init);
module_exit(kpeek_example_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kpeek example: a char device with read/write counters");
MODULE_AUTHOR("kpeek developers");
