/* Exactly N getppid() system calls (through syscall(2): no libc cache), made after a line
 * arrives on stdin, so that a test attaches its counter to this pid first. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    char line[8];
    if (!fgets(line, sizeof line, stdin)) return 2;
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    return 0;
}
