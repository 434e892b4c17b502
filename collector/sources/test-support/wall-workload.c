/* Wall-clock profile test workload. Waits for a line on stdin, then for argv[2] seconds:
 *   alternate  the main thread alternates 5 ms of CPU in burn_cpu() and 20 ms of nanosleep in take_nap();
 *   spin N     N threads spin in spin_forever() (pinned by the test to fewer CPUs: they wait for a CPU);
 *   lock       a holder thread keeps a mutex 30 ms at a time (sleeping in hold_lock()), a waiter thread takes
 *              it in wait_for_lock() between the holder's turns;
 *   fsync F    writes 64 KiB to file F and fsyncs it in sync_to_disk(), over and over.
 * Prints the seconds it ran. Built -fno-omit-frame-pointer (the test's stacks go through libc too). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double seconds;
static double end_at;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap_ms(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };
	nanosleep(&ts, NULL);
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* `ms` of this thread's CPU time (not wall time: a wait for the CPU in between does not shorten it). */
__attribute__((noinline)) void burn_cpu(double ms)
{
	double until = thread_cpu() + ms / 1e3;
	volatile unsigned long x = 0;
	while (thread_cpu() < until)
		for (int i = 0; i < 1000; i++)
			x++;
}

__attribute__((noinline)) void take_nap(int ms)
{
	nap_ms(ms);
}

__attribute__((noinline)) void *spin_forever(void *arg)
{
	volatile unsigned long x = 0;
	(void)arg;
	while (now() < end_at)
		for (int i = 0; i < 100000; i++)
			x++;
	return NULL;
}

__attribute__((noinline)) void hold_lock(void)
{
	pthread_mutex_lock(&mutex);
	nap_ms(30);
	pthread_mutex_unlock(&mutex);
}

static void *holder(void *arg)
{
	(void)arg;
	while (now() < end_at) {
		hold_lock();
		nap_ms(1);
	}
	return NULL;
}

__attribute__((noinline)) void wait_for_lock(void)
{
	pthread_mutex_lock(&mutex);
	pthread_mutex_unlock(&mutex);
}

static void *waiter(void *arg)
{
	(void)arg;
	while (now() < end_at) {
		wait_for_lock();
		/* Let the holder take it again: the next wait_for_lock() blocks. */
		nap_ms(2);
	}
	return NULL;
}

__attribute__((noinline)) void sync_to_disk(int fd, const char *buf, size_t len)
{
	if (pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd) != 0) {
		perror("sync_to_disk");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	char line[8];
	if (argc < 3)
		return 2;
	seconds = atof(argv[2]);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	double start = now();
	end_at = start + seconds;
	if (strcmp(argv[1], "alternate") == 0) {
		while (now() < end_at) {
			burn_cpu(5);
			take_nap(20);
		}
	} else if (strcmp(argv[1], "spin") == 0) {
		int n = argc > 3 ? atoi(argv[3]) : 4;
		pthread_t t[64];
		for (int i = 0; i < n && i < 64; i++)
			pthread_create(&t[i], NULL, spin_forever, NULL);
		for (int i = 0; i < n && i < 64; i++)
			pthread_join(t[i], NULL);
	} else if (strcmp(argv[1], "lock") == 0) {
		pthread_t h, w;
		pthread_create(&h, NULL, holder, NULL);
		nap_ms(5);
		pthread_create(&w, NULL, waiter, NULL);
		pthread_join(h, NULL);
		pthread_join(w, NULL);
	} else if (strcmp(argv[1], "fsync") == 0 && argc > 3) {
		static char buf[65536];
		int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			perror(argv[3]);
			return 1;
		}
		memset(buf, 'x', sizeof buf);
		while (now() < end_at) {
			buf[0]++;
			sync_to_disk(fd, buf, sizeof buf);
		}
		close(fd);
	} else {
		return 2;
	}
	printf("%.6f\n", now() - start);
	return 0;
}
