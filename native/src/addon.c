/*
 * Module registration for berth_native.node. The module is context-aware
 * (NAPI_MODULE_INIT), so it loads in worker threads and Electron as well, and
 * keeps no global mutable state.
 */
#include "berth.h"

static napi_value make_int(napi_env env, int32_t value) {
  napi_value v = NULL;
  if (napi_create_int32(env, value, &v) != napi_ok)
    return NULL;
  return v;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"peerCredentials", NULL, berth_peer_credentials, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"connectUnix", NULL, berth_connect_unix, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"sendMessage", NULL, berth_send_message, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"receiveMessage", NULL, berth_receive_message, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"bindSocket", NULL, berth_bind_socket, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"pollStart", NULL, berth_poll_start, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"pollUpdate", NULL, berth_poll_update, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"pollStop", NULL, berth_poll_stop, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"POLL_READABLE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
      {"POLL_WRITABLE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
      {"MAX_FDS", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
      {"MAX_RECEIVE_BYTES", NULL, NULL, NULL, NULL, NULL, napi_enumerable,
       NULL},
  };
  props[8].value = make_int(env, BERTH_POLL_READABLE);
  props[9].value = make_int(env, BERTH_POLL_WRITABLE);
  props[10].value = make_int(env, BERTH_MAX_FDS);
  props[11].value = make_int(env, BERTH_MAX_RECV_BYTES);
  if (props[8].value == NULL || props[9].value == NULL ||
      props[10].value == NULL || props[11].value == NULL ||
      napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]),
                             props) != napi_ok)
    return NULL; /* load fails with the pending exception */
  return exports;
}
