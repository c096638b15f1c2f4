/*
 * set-file-caps: writes file capabilities (permitted set only, no effective bit, no
 * inheritable) to a file, as `setcap cap_dac_read_search,cap_sys_ptrace+p FILE` would, for
 * image builds where libcap's setcap is not installed. Used once while building the image
 * (Dockerfile) and deleted; needs CAP_SETFCAP.
 *
 * Why a build step of its own: Docker's classic builder drops extended attributes in
 * `COPY --from`, so the capability must be written in the stage that ships the file.
 *
 * Usage: set-file-caps FILE CAP_NUMBER...   (numbers from linux/capability.h: 2, 19)
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: set-file-caps FILE CAP_NUMBER...\n");
    return 2;
  }
  uint32_t permitted[2] = {0, 0};
  for (int i = 2; i < argc; i++) {
    char *end;
    long cap = strtol(argv[i], &end, 10);
    if (*end != '\0' || cap < 0 || cap > CAP_LAST_CAP) {
      fprintf(stderr, "set-file-caps: not a capability number: %s\n", argv[i]);
      return 2;
    }
    permitted[cap / 32] |= 1u << (cap % 32);
  }
  /* struct vfs_cap_data, revision 2, little-endian on every Linux: magic_etc, then
   * {permitted, inheritable} for bits 0-31 and 32-63. */
  struct vfs_cap_data data;
  memset(&data, 0, sizeof data);
  data.magic_etc = VFS_CAP_REVISION_2;
  data.data[0].permitted = permitted[0];
  data.data[1].permitted = permitted[1];
  if (setxattr(argv[1], "security.capability", &data, XATTR_CAPS_SZ_2, 0) != 0) {
    fprintf(stderr, "set-file-caps: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  return 0;
}
