/*
 * getppid-cost: call getppid(2) at a fixed rate and measure the time the calls themselves take.
 *
 *   getppid-cost RATE SECONDS     RATE calls per second (0: as fast as possible)
 *
 * Waits for one byte on stdin before starting (a tracer is set up meanwhile). Calls come in
 * batches of 64; only the time inside the batches is summed (waiting for the next batch's due
 * time is not), so ns_per_call is the workload's cost per call whatever the rate. Prints
 * "pid=P calls=N ns_per_call=X seconds=S".
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
	double rate, secs, start, end, t0, t, busy = 0;
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
		t0 = now();
		for (i = 0; i < 64; i++)
			syscall(SYS_getppid);
		t = now();
		busy += t - t0;
		calls += 64;
		if (t >= end)
			break;
		if (rate > 0) {
			double due = start + calls / rate;

			if (due > t) {
				struct timespec ts = { 0, (long)((due - t) * 1e9) };

				if (due - t > 0.0002)
					nanosleep(&ts, NULL);
				while (now() < due)
					;
			}
		}
	}
	printf("pid=%d calls=%lu ns_per_call=%.1f seconds=%.3f\n", getpid(), calls,
	       busy * 1e9 / calls, now() - start);
	return 0;
}
