/* Off-CPU test workload: waits for a line on stdin, then sleeps in sleepy_function for argv[1] seconds in
 * 10 ms naps. Built -O0 -fno-omit-frame-pointer: nap() keeps a frame so the frame-pointer walk from inside
 * libc's usleep (built without frame pointers) still reaches sleepy_function. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void nap(void)
{
	usleep(10000);
}

__attribute__((noinline)) void sleepy_function(double seconds)
{
	double end = now() + seconds;
	while (now() < end)
		nap();
}

int main(int argc, char **argv)
{
	char line[8];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	double start = now();
	sleepy_function(argc > 1 ? atof(argv[1]) : 3.0);
	printf("%.6f\n", now() - start);
	return 0;
}
