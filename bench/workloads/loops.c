/* Benchmark workloads with no interpreter noise.
 *   loops open-same N     open+close one existing file N times (dedup-friendly, like a hot loop)
 *   loops open-unique N   open N distinct missing paths (every event distinct: ingest load)
 *   loops exec N          fork+exec /bin/true N times
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    char path[64];
    if (!strcmp(argv[1], "open-same")) {
        for (long i = 0; i < n; i++) {
            int fd = open("/etc/hostname", O_RDONLY);
            if (fd >= 0)
                close(fd);
        }
    } else if (!strcmp(argv[1], "open-unique")) {
        for (long i = 0; i < n; i++) {
            snprintf(path, sizeof(path), "/nonexistent/beholder-bench-%ld", i);
            open(path, O_RDONLY);
        }
    } else if (!strcmp(argv[1], "exec")) {
        for (long i = 0; i < n; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                execl("/bin/true", "true", (char *)0);
                _exit(127);
            }
            waitpid(pid, 0, 0);
        }
    } else {
        return 2;
    }
    return 0;
}
