/* Socket peer credentials (sextant_sock.c), called from sextant_proc.c. */
#ifndef SEXTANT_SOCK_H
#define SEXTANT_SOCK_H
#include <node_api.h>

/* peerCredentials(fd: number, out: Int32Array of at least 3) -> 0 | -errno; out = pid, uid, gid */
napi_value sock_peer_credentials(napi_env env, napi_callback_info info);

#endif
