/* A slower disk for the load benchmark: fsync and fdatasync sleep SLOW_FSYNC_US microseconds
 * after the real call, as a flush to a network or cloud volume does.
 *
 * Built and preloaded (LD_PRELOAD) by benchmarks/load.py --fsync-delay-ms into the service
 * processes (SQLite syncs in-process) and the PostgreSQL server (its WAL flushes). The real
 * call still runs, so durability is unchanged; only the wait is longer.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static long delay_us(void) {
    static long cached = -1;
    if (cached < 0) {
        const char *value = getenv("SLOW_FSYNC_US");
        cached = value ? atol(value) : 0;
    }
    return cached;
}

static void pause_us(long us) {
    struct timespec wait = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&wait, &wait) != 0) {
    }
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int result = real(fd);
    pause_us(delay_us());
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int result = real(fd);
    pause_us(delay_us());
    return result;
}
