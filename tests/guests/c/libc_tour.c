/* A WASI command in C, built with clang-14 and Debian's wasi-libc: the same
 * calls a typical C program makes through libc, against /sandbox.
 * Usage: libc_tour EXIT_STATUS */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    printf("argc=%d argv0=%s\n", argc, argv[0]);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");

    struct timespec ts;
    printf("clock_gettime: %d\n", clock_gettime(CLOCK_MONOTONIC, &ts));

    FILE *f = fopen("/sandbox/c.txt", "w+");
    if (!f) { perror("fopen"); return 10; }
    fprintf(f, "written by C %d\n", 42);
    fseek(f, 0, SEEK_SET);
    char line[64] = {0};
    fgets(line, sizeof line, f);
    printf("read back: %s", line);
    fclose(f);

    printf("mkdir: %d\n", mkdir("/sandbox/cdir", 0755));
    printf("mkdir again: %d errno=%s\n", mkdir("/sandbox/cdir", 0755), strerror(errno));
    printf("rename: %d\n", rename("/sandbox/c.txt", "/sandbox/cdir/c.txt"));
    struct stat st;
    printf("stat: %d size=%lld\n", stat("/sandbox/cdir/c.txt", &st), (long long)st.st_size);
    printf("open missing: %d errno=%s\n", open("/sandbox/missing", O_RDONLY), strerror(errno));

    DIR *d = opendir("/sandbox");
    char *names[32];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 32)
        names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    for (int i = 0; i < n; i++)
        printf("entry %s\n", names[i]);

    fprintf(stderr, "done\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
