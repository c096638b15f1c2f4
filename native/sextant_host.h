/* The whole-host /proc file parsers of the addon (sextant_host.c), called from sextant_proc.c. */
#ifndef SEXTANT_HOST_H
#define SEXTANT_HOST_H
#include <node_api.h>

typedef struct host_state host_state_t;

host_state_t *host_state_new(void);
void host_state_free(host_state_t *h);
/* readHostFile(kind, path, out: Float64Array, error: string[]) -> slots needed | -1 */
napi_value host_read_file(napi_env env, napi_callback_info info, host_state_t *h);
/* hostNames(kind) -> string[] */
napi_value host_names(napi_env env, napi_callback_info info, host_state_t *h);

#endif
