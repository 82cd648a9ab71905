/*
 * getppid-gen: call getppid(2) at a steady rate, for tracing benchmarks.
 *
 *   getppid-gen RATE SECONDS     RATE calls per second (0: as fast as possible)
 *
 * Waits for one byte on stdin before starting (so a tracer can be set up with this pid in
 * its filter), then prints "calls=N seconds=S rate=R".
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double rate, secs, start, end, t;
	unsigned long calls = 0;
	char c;
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s RATE SECONDS\n", argv[0]);
		return 2;
	}
	rate = atof(argv[1]);
	secs = atof(argv[2]);
	if (read(0, &c, 1) != 1)
		return 2;
	start = now();
	end = start + secs;
	for (;;) {
		/* Batches of 256 calls keep the clock reads out of the way. */
		for (i = 0; i < 256; i++)
			syscall(SYS_getppid);
		calls += 256;
		t = now();
		if (t >= end)
			break;
		if (rate > 0) {
			double due = start + calls / rate;

			while ((t = now()) < due && t < end)
				;
		}
	}
	t = now() - start;
	printf("calls=%lu seconds=%.6f rate=%.0f\n", calls, t, calls / t);
	return 0;
}
