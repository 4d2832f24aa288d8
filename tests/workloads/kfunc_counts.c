/* Known numbers of kernel-function calls: kfunc_counts N FILE: N one-byte read()s of a pipe (N pipe_read calls,
 * none blocking: the bytes are written first), then N write+fsync pairs on FILE (N vfs_fsync_range calls). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100, fds[2], fd;
	const char *file = argc > 2 ? argv[2] : "/tmp/kfunc_counts.dat";
	char *buf, c;
	if (n < 1 || n > 60000 || pipe(fds))
		return 1;
	buf = malloc(n);
	memset(buf, 'x', n);
	if (write(fds[1], buf, n) != n)
		return 1;
	for (int i = 0; i < n; i++)
		if (read(fds[0], &c, 1) != 1)
			return 1;
	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return 1;
	for (int i = 0; i < n; i++)
		if (write(fd, "y", 1) != 1 || fsync(fd))
			return 1;
	close(fd);
	unlink(file);
	return 0;
}
