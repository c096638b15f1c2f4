/*
 * The C floor of a process scan: the least any reader must do to see every process's stat,
 * with nothing else. opendir(procDir); for each numeric entry, openat("<pid>/stat"), one read()
 * into a static buffer, close. No parsing, no output per process.
 *
 * Usage: floor PROC_DIR ITERATIONS   → prints "<ns per process> <processes per scan>"
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[4096];

static long scan(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  int dfd = dirfd(d);
  long n = 0;
  char name[32];
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *p = e->d_name;
    if (*p < '1' || *p > '9') continue;
    size_t len = strlen(p);
    if (len > 10) continue;
    memcpy(name, p, len);
    memcpy(name + len, "/stat", 6);
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (read(fd, buf, sizeof buf) > 0) n++;
    close(fd);
  }
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PROC_DIR ITERATIONS\n", argv[0]);
    return 2;
  }
  long iterations = atol(argv[2]);
  if (scan(argv[1]) < 0) { /* warm the dentry cache, as the other readers' warm-up does */
    perror(argv[1]);
    return 1;
  }
  struct timespec t0, t1;
  long processes = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < iterations; i++) processes += scan(argv[1]);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("%.1f %ld\n", ns / (double)processes, processes / iterations);
  return 0;
}
