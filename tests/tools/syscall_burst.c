/* A burst of system calls for the exactness tests of the tools that join a call's entry and
 * exit in the kernel (opensnoop, statsnoop, killsnoop, mountsnoop). It waits for a line on
 * stdin, so that the test starts the tool with -p on this pid first, then makes exactly the
 * calls asked for and nothing else that the tools trace.
 *
 *   syscall_burst open DIR N     open(DIR/fI, O_CREAT) and close, I = 0..N-1
 *   syscall_burst stat DIR N     stat(DIR/fI)
 *   syscall_burst kill DIR N     kill(getpid(), 0)
 *   syscall_burst umount DIR N   umount2(DIR/mI, 0): fails (no such directory)
 *   syscall_burst fifo DIR N     a thread blocks in open(DIR/fifo, O_RDONLY) (kept at entry,
 *                                it fills a one-entry map of opens in progress), then the
 *                                main thread opens DIR/fI N times and DIR/fifo for writing
 *                                (which lets the thread's open return): N + 2 opens
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char fifo_path[4096];

static void *fifo_reader(void *unused) {
    (void)unused;
    int fd = open(fifo_path, O_RDONLY);
    if (fd >= 0)
        close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4)
        return 2;
    const char *mode = argv[1], *dir = argv[2];
    long n = atol(argv[3]);
    char path[4096], line[8];
    if (read(0, line, sizeof line) < 0)
        return 2;
    pthread_t reader;
    if (strcmp(mode, "fifo") == 0) {
        snprintf(fifo_path, sizeof fifo_path, "%s/fifo", dir);
        if (pthread_create(&reader, NULL, fifo_reader, NULL) != 0)
            return 2;
        usleep(300 * 1000); /* the reader is blocked inside open() by now */
    }
    for (long i = 0; i < n; i++) {
        if (strcmp(mode, "kill") == 0) {
            kill(getpid(), 0);
            continue;
        }
        snprintf(path, sizeof path, "%s/%c%ld", dir, strcmp(mode, "umount") == 0 ? 'm' : 'f', i);
        if (strcmp(mode, "stat") == 0) {
            struct stat st;
            stat(path, &st);
        } else if (strcmp(mode, "umount") == 0) {
            umount2(path, 0);
        } else {
            int fd = open(path, O_WRONLY | O_CREAT, 0600);
            if (fd >= 0)
                close(fd);
        }
    }
    if (strcmp(mode, "fifo") == 0) {
        int fd = open(fifo_path, O_WRONLY);
        if (fd >= 0)
            close(fd);
        pthread_join(reader, NULL);
    }
    return 0;
}
