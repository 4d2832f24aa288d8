/* Makes exactly known numbers of syscalls (for kmeasure's comparison with strace -c -f):
 * ksys_counts N FILE: N getpid, N reads of /dev/zero, N writes to /dev/null, N/10 fsyncs of FILE, and a forked
 * child making N getppid. No threads, no stdio: every syscall is one of these or fixed start-up. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	const char *file = argc > 2 ? argv[2] : "/tmp/ksys_counts.dat";
	char buf[64] = { 0 };
	int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_WRONLY);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (zero < 0 || null < 0 || fd < 0)
		return 1;
	for (int i = 0; i < n; i++)
		syscall(SYS_getpid);
	for (int i = 0; i < n; i++)
		if (read(zero, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	for (int i = 0; i < n; i++)
		if (write(null, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	for (int i = 0; i < n / 10; i++)
		if (write(fd, buf, 1) != 1 || fsync(fd))
			return 1;
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < n; i++)
			syscall(SYS_getppid);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	unlink(file);
	return 0;
}
