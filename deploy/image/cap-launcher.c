/*
 * cap-launcher: gives a non-root container process the capabilities it was granted, then execs
 * the real program.
 *
 * Why: Docker and Kubernetes put `--cap-add` / `capabilities.add` only into the bounding set
 * of a process that runs as a non-root uid; its effective set stays empty (measured with Docker
 * 20.10: uid 65532 with --cap-add DAC_READ_SEARCH has CapEff 0). The image therefore gives this
 * small binary file capabilities (permitted only, no effective bit: cap_dac_read_search and
 * cap_sys_ptrace). At exec the kernel grants it those of them that are in the bounding set,
 * i.e. exactly the ones the operator added; it copies them into its inheritable and ambient
 * sets and execs the program, which starts with them effective. No effective bit means a
 * container started without the capabilities still runs (the kernel's EPERM check for
 * capability-dumb binaries applies only to files with the effective bit); it just has none.
 *
 * It never raises more than it was granted, never changes uid, and reads nothing. Under
 * no_new_privs (Kubernetes allowPrivilegeEscalation: false, docker --security-opt
 * no-new-privileges) the kernel ignores file capabilities, so it execs with none.
 *
 * Usage: cap-launcher PROGRAM [ARG...]   (PROGRAM is an absolute path; no PATH search)
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] != '/') {
    fprintf(stderr, "usage: cap-launcher /ABSOLUTE/PROGRAM [ARG...]\n");
    return 2;
  }
  struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &head, data) == 0) {
    /* Ambient needs each capability in permitted and inheritable; inheritable may be raised
     * up to permitted without CAP_SETPCAP. */
    int any = 0;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
      any |= data[i].permitted != 0;
      data[i].inheritable |= data[i].permitted;
    }
    if (any && syscall(SYS_capset, &head, data) == 0) {
      for (int cap = 0; cap < 32 * _LINUX_CAPABILITY_U32S_3; cap++) {
        if (data[cap / 32].permitted & (1u << (cap % 32))) {
          /* EINVAL for a capability this kernel does not know: skip it. */
          (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
        }
      }
    }
  }
  execv(argv[1], argv + 1);
  fprintf(stderr, "cap-launcher: cannot exec %s: %s\n", argv[1], strerror(errno));
  return 127;
}
