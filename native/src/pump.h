/*
 * The native data plane ("pump"): one thread per process that moves the
 * bytes of forwarded TCP connections, so they never pass through JavaScript.
 *
 * Split of the work:
 * - JavaScript (main/core/ports/native-forwarder.ts) keeps the control plane:
 *   it accepts each client (acceptConnections), applies the descriptor budget,
 *   resolves the target's name, and hands the client's fd and the target's
 *   address over with pumpAdd. Every policy decision and every message a user
 *   sees stays in JS.
 * - pump.c (platform-neutral) holds the mappings, the command queue from JS
 *   to the thread, the connection state machine (connecting, half-close,
 *   reset, close) and the batched reports back to JS (one threadsafe-function
 *   call per burst, never per packet).
 * - pump_linux.c (epoll; bulk by splice through a pipe, zero copy; small
 *   reads by recv/send through one buffer) and pump_darwin.c
 *   (kqueue + read/write through a buffer) provide the same small interface
 *   below: a poller and "move what can be moved in one direction".
 *
 * Threads: everything in pump_pair, and the pairs list / closing flag of a
 * mapping, belong to the pump thread alone. JS reads statistics through
 * atomics; reports cross back under the mapping's lock.
 */
#ifndef BERTH_PUMP_H
#define BERTH_PUMP_H

#include "berth.h"

#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>

typedef struct pump_mapping pump_mapping;
typedef struct pump_pair pump_pair;

/* A command from JS to the pump thread: start a pair, or close a mapping.
 * Embedded in what it concerns, so queueing one never allocates. */
typedef struct pump_cmd {
  struct pump_cmd *next;
  pump_pair *pair;       /* start this pair, or */
  pump_mapping *mapping; /* close this mapping */
} pump_cmd;

/* One direction of a connection: bytes read from src, written to dst. */
typedef struct {
  int src, dst;
  int pipe_r, pipe_w; /* Linux: the pipe holding bytes in flight, -1 when none */
  size_t pipe_cap;    /* Linux: bytes that pipe holds when full */
  /* Bytes read and not yet written, NULL when none. macOS: every read goes
   * here. Linux: what dst could not take of a small read (pipe empty then). */
  unsigned char *buf;
  size_t off;         /* first unwritten byte of buf */
  size_t queued;      /* read from src, not yet written to dst */
  bool bulk;          /* Linux: src sends in bulk: splice through the pipe */
  /* Linux: src ended, failed or holds urgent data (its event said so): a
   * short read may not have emptied it, so read until a read would block. */
  bool exact;
  /* src may have bytes or news (its FIN, an error): set by its readiness
   * event, cleared by a read that would block. Reads are tried only then,
   * so an event for one side costs no call on the other. */
  bool readable;
  bool eof;           /* src sent its FIN */
  bool shut;          /* that FIN was passed on: shutdown(dst, SHUT_WR) */
} pump_dir;

struct pump_pair {
  pump_cmd start_cmd;
  pump_mapping *mapping;
  struct pump_pair *prev, *next;   /* the mapping's open pairs */
  struct pump_pair *cprev, *cnext; /* pairs still connecting to the target */
  struct pump_pair *next_dead;     /* closed, freed after this batch of events */
  struct pump_pair *next_ready;    /* used its turn with bytes still to move */
  bool ready_queued;
  int fd[2];                       /* [0] client, [1] target */
  pump_dir dir[2];                 /* [0] client -> target, [1] target -> client */
  int64_t deadline_ms;             /* while connecting: give up at this time */
  /* The name's other address (localhost: ::1 and 127.0.0.1, a target listens
   * on one of them), tried once when the connect fails; alt_len 0: none. */
  struct sockaddr_storage alt;
  socklen_t alt_len;
  bool connecting;
  bool dead;
};

struct pump_mapping {
  atomic_int refs;
  /* Statistics, written by the pump thread, read by JS on demand. */
  atomic_uint_least64_t bytes_in;  /* client -> target */
  atomic_uint_least64_t bytes_out; /* target -> client */
  atomic_int_least64_t queued;     /* read from one side, not yet written to the other */
  atomic_bool close_requested;     /* pumpClose / finalizer / env teardown asked */
  pump_cmd close_cmd;
  int64_t connect_timeout_ms;
  /* Pump thread only. */
  pump_pair *pairs;
  bool closed;
  /* Reports to JS, under lock. */
  pthread_mutex_t lock;
  napi_threadsafe_function tsfn;
  bool env_gone;  /* the env is being torn down: the tsfn must not be touched */
  bool scheduled; /* a tsfn call is queued and has not run yet */
  bool released;  /* the pump thread released the tsfn (after the last report) */
  uint32_t ev_closed, ev_failed, ev_exhausted;
  int ev_errno;   /* the last target connection failure (positive errno) */
  /* The last connect outcome was a failure; ev_reached: since the last report,
   * a connection reached the target after that (and none failed since), so
   * JS stops showing the failure. Only the change is reported, never each
   * connection: a busy mapping makes no extra calls. */
  bool target_down;
  bool ev_reached;
  bool ev_finished;
  /* JS thread only. */
  bool hook_active; /* the env cleanup hook is still registered */
  napi_env env;
};

/* ---- pump.c: used by pump_napi.c ----------------------------------------- */

/* Start the pump thread if it is not running; 0 or an errno, with the
 * failing call's name in *syscall. */
int pump_start(const char **syscall);
/* Queue a command for the pump thread and wake it. */
void pump_enqueue(pump_cmd *cmd);
/* Ask the pump thread to close the mapping's connections and send the last
 * report (once; later calls do nothing). */
void pump_request_close(pump_mapping *m);
void pump_mapping_unref(pump_mapping *m);

/* ---- pump.c: used by the platform files ---------------------------------- */

/* The connection cannot go on: close both sockets, with a reset (SO_LINGER 0)
 * when `reset`, and report it to JS. Safe to call more than once. */
void pump_pair_end(pump_pair *p, bool reset, bool exhausted);
/* One of the pair's sockets is ready (or failed): advance its state. `fd`:
 * which socket the event is for (0 client, 1 target; -1: no event, a pair
 * whose turn ended); `events`: what the event says of it (below). */
void pump_pair_ready(pump_pair *p, int fd, unsigned events);
/* It can be read, or has failed or ended (a read tells which). */
#define PUMP_EV_READ 1u
/* It ended, failed or holds urgent data: read it until a read would block,
 * and after its FIN, look for a reset (SO_ERROR). */
#define PUMP_EV_EXACT 2u
/* Statistics: n bytes read from direction d's source (0: client -> target),
 * and n bytes of it written to its destination. */
void pump_count_read(pump_pair *p, int d, size_t n);
void pump_count_written(pump_pair *p, size_t n);

/* ---- pump_linux.c / pump_darwin.c ------------------------------------------ */

/* Set up the poller and the wake-up channel; 0 or an errno. */
int pump_poller_open(void);
/* Watch both sockets of a pair (edge-triggered, read and write); 0 or errno. */
int pump_poller_add(pump_pair *p);
/* Watches one of the pair's sockets (0 client, 1 target): a new target. */
int pump_poller_add_fd(pump_pair *p, int i);
/* A non-blocking, close-on-exec TCP socket connecting to ss (0 or
 * EINPROGRESS from connect): its fd in *fd, or the errno. */
int pump_connect(const struct sockaddr_storage *ss, socklen_t len, int *fd);
/* pump_connect.c: the pair's target failed to connect; connects to the
 * name's other address instead. False when there is none or it cannot
 * start (the pair then fails with the first error). Pump thread only. */
bool pump_try_other_address(pump_pair *p);
/* Wait for events up to timeout_ms (-1: forever) and call pump_pair_ready
 * for each ready socket; returns true when the wake-up channel fired. */
bool pump_poller_wait(int timeout_ms);
/* Make pump_poller_wait return (callable from any thread). */
void pump_poller_wake(void);
/* Move what can be moved from d->src to d->dst without blocking. Returns 0
 * when it stopped because a side would block (a readiness event will come)
 * or src ended and the FIN was passed on; PUMP_MORE when it moved
 * PUMP_TURN_BYTES and stopped to let other connections have their turn (no
 * event will come: pump.c comes back by itself); a positive errno on
 * failure (a reset, ENOMEM). Running out of descriptors for a pipe is no
 * failure: the direction goes on without one. */
int pump_move(pump_pair *p, int d);
#define PUMP_MORE (-1)
/* One connection's turn: a bulk transfer that never meets EAGAIN on
 * loopback must not keep the others (and new connections) waiting. */
#define PUMP_TURN_BYTES (1024 * 1024)
/* Give back what a direction holds (its pipe or buffer) when the pair closes. */
void pump_dir_release(pump_dir *d);
/* No connection is open any more: drop cached pipes or buffers. */
void pump_idle(void);

#endif /* BERTH_PUMP_H */
