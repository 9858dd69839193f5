/* Benchmark workloads with no interpreter noise.
 *   loops open-same N     open+close one existing file N times (dedup-friendly, like a hot loop)
 *   loops open-unique N [RATE]  open N distinct missing paths (every event distinct: ingest
 *                               load), at most RATE per second when given
 *   loops exec N          fork+exec /bin/true N times
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until `done` operations fit within `rate` per second since `start`. */
static void pace(long done, long rate, double start)
{
    double ahead = start + (double)done / rate - now_s();
    if (ahead > 0) {
        struct timespec ts = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};
        nanosleep(&ts, 0);
    }
}

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
        long rate = argc > 3 ? atol(argv[3]) : 0;
        double start = now_s();
        for (long i = 0; i < n; i++) {
            if (rate > 0 && i % 1000 == 0)
                pace(i, rate, start);
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
