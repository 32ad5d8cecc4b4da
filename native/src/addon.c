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
      {"probeBind", NULL, berth_probe_bind, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"pollStart", NULL, berth_poll_start, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"pollUpdate", NULL, berth_poll_update, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"pollStop", NULL, berth_poll_stop, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"openDirectoryNoFollow", NULL, berth_open_directory_no_follow, NULL,
       NULL, NULL, napi_enumerable, NULL},
      {"statAt", NULL, berth_stat_at, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readlinkAt", NULL, berth_readlink_at, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"symlinkAt", NULL, berth_symlink_at, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"renameAt", NULL, berth_rename_at, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"unlinkAt", NULL, berth_unlink_at, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"openFileAt", NULL, berth_open_file_at, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"fsyncDirectory", NULL, berth_fsync_directory, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"setHeapTrimThreshold", NULL, berth_set_heap_trim_threshold, NULL, NULL,
       NULL, napi_enumerable, NULL},
      {"launchActivateSocket", NULL, berth_launch_activate_socket, NULL, NULL,
       NULL, napi_enumerable, NULL},
      {"openAddressWatch", NULL, berth_open_address_watch, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"drainAddressWatch", NULL, berth_drain_address_watch, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"fileLimit", NULL, berth_file_limit, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"raiseFileLimit", NULL, berth_raise_file_limit, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"datagramAddress", NULL, berth_datagram_address, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"receiveDatagram", NULL, berth_receive_datagram, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"sendDatagram", NULL, berth_send_datagram, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"pumpOpen", NULL, berth_pump_open, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"pumpAdd", NULL, berth_pump_add, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"pumpClose", NULL, berth_pump_close, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"pumpStats", NULL, berth_pump_stats, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"acceptConnections", NULL, berth_accept_connections, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"socketAddress", NULL, berth_socket_address, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"resetSocket", NULL, berth_reset_socket, NULL, NULL, NULL,
       napi_enumerable, NULL},
      {"POLL_READABLE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
      {"POLL_WRITABLE", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
      {"MAX_FDS", NULL, NULL, NULL, NULL, NULL, napi_enumerable, NULL},
      {"MAX_RECEIVE_BYTES", NULL, NULL, NULL, NULL, NULL, napi_enumerable,
       NULL},
  };
  /* The constants are the last four entries. */
  const size_t count = sizeof(props) / sizeof(props[0]);
  props[count - 4].value = make_int(env, BERTH_POLL_READABLE);
  props[count - 3].value = make_int(env, BERTH_POLL_WRITABLE);
  props[count - 2].value = make_int(env, BERTH_MAX_FDS);
  props[count - 1].value = make_int(env, BERTH_MAX_RECV_BYTES);
  if (props[count - 4].value == NULL || props[count - 3].value == NULL ||
      props[count - 2].value == NULL || props[count - 1].value == NULL ||
      napi_define_properties(env, exports, count, props) != napi_ok)
    return NULL; /* load fails with the pending exception */
  return exports;
}
