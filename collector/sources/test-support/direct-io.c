/* I/O test workload: direct_io FILE BLOCKS COUNT [split]. Fills FILE with BLOCKS 4 KiB blocks and syncs it (setup, not
 * measured), prints "ready", waits for a line on stdin, then does COUNT O_DIRECT 4 KiB I/Os in do_direct_io
 * (reads, every fourth a write, to blocks already written: no allocation, so no journal I/O of its own), prints
 * how many it did, and exits when stdin is closed (so that it is still there to be symbolized). One aligned
 * 4 KiB direct I/O is one block request. With "split", every other I/O goes through path_a, the others through
 * path_b: two callers with identical frames, so the I/Os reach the system call with identical registers. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One I/O. A function of its own, with a frame: libc's pread/pwrite keep no frame pointer, so a frame-pointer
 * step from inside them (before the agent has tabled libc) skips their caller, which is then this one. */
__attribute__((noinline)) ssize_t one_io(int fd, char *buf, off_t off, int write)
{
	return write ? pwrite(fd, buf, 4096, off) : pread(fd, buf, 4096, off);
}

__attribute__((noinline)) ssize_t path_a(int fd, char *buf, off_t off, int write)
{
	return one_io(fd, buf, off, write);
}

__attribute__((noinline)) ssize_t path_b(int fd, char *buf, off_t off, int write)
{
	return one_io(fd, buf, off, write);
}

static int split;

__attribute__((noinline)) long do_direct_io(int fd, char *buf, long blocks, long count)
{
	long done = 0;

	for (long i = 0; i < count; i++) {
		off_t off = ((i * 7919) % blocks) * 4096;
		int write = i % 4 == 3;
		ssize_t n = !split ? one_io(fd, buf, off, write) : (i & 1) ? path_b(fd, buf, off, write) : path_a(fd, buf, off, write);

		if (n != 4096) {
			perror("direct I/O");
			exit(1);
		}
		done++;
	}
	return done;
}

int main(int argc, char **argv)
{
	char line[8], *buf;
	long blocks, count;
	int fd;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "split") != 0)) {
		fprintf(stderr, "usage: direct_io FILE BLOCKS COUNT [split]\n");
		return 2;
	}
	split = argc == 5;
	blocks = atol(argv[2]);
	count = atol(argv[3]);
	if (posix_memalign((void **)&buf, 4096, 4096) != 0)
		return 1;
	memset(buf, 'x', 4096);
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (long i = 0; i < blocks; i++) {
		if (write(fd, buf, 4096) != 4096) {
			perror("fill");
			return 1;
		}
	}
	fsync(fd);
	close(fd);
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	printf("%ld\n", do_direct_io(fd, buf, blocks, count));
	fflush(stdout);
	close(fd);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
