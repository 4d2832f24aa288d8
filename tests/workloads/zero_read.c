/* CPU in the kernel through one syscall: zero_read SECONDS reads /dev/zero 1 MiB at a time until the time is
 * up (the time goes to read_iter_zero clearing the user buffer). */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1;
	static char buf[1 << 20];
	struct timespec a, b;
	int fd = open("/dev/zero", O_RDONLY);
	if (fd < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		if (read(fd, buf, sizeof(buf)) != sizeof(buf))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
	return 0;
}
