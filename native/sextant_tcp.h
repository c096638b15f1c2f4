/* TCP connection counts by state over NETLINK_SOCK_DIAG (sextant_tcp.c), called from sextant_proc.c. */
#ifndef SEXTANT_TCP_H
#define SEXTANT_TCP_H
#include <node_api.h>

typedef struct tcp_state tcp_state_t;

tcp_state_t *tcp_state_new(void);
void tcp_state_free(tcp_state_t *t);
/* countTcpStates(out: Float64Array of at least 13) -> 0 | -errno */
napi_value tcp_count_states(napi_env env, napi_callback_info info, tcp_state_t *t);

#endif
