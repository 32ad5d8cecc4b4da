/*
 * The data plane's platform-neutral core (see pump.h): the one pump thread,
 * the command queue that feeds it, the connection state machine, and the
 * batched reports to JS.
 *
 * The addon otherwise keeps no global state (NAPI_MODULE_INIT); the pump
 * thread is the deliberate exception: one per process however many
 * environments (Electron's main, workers) load the addon, started on first
 * use and never stopped. Everything it shares with JS threads goes through
 * the queue (queue_lock) or a mapping's lock and atomics.
 */
#include "pump.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static bool poller_ready, thread_running;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pump_cmd *queue_head, *queue_tail;

/* Pump thread only. */
static pump_pair *connecting;
static pump_pair *dead;
static pump_pair *ready_head, *ready_tail; /* pairs that used up their turn */
static size_t open_pairs;

static int64_t now_ms(void) {
  struct timespec ts;
  /* CLOCK_MONOTONIC: connect deadlines must not move with the wall clock. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pump_mapping_unref(pump_mapping *m) {
  if (atomic_fetch_sub(&m->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&m->lock);
  free(m);
}

/* ---- reports to JS ---------------------------------------------------------- */

/* Under m->lock. One threadsafe call per burst: while a call is queued, more
 * news only adds to the counters that call will read. */
static void schedule_locked(pump_mapping *m) {
  if (m->env_gone || m->released || m->scheduled)
    return;
  if (napi_call_threadsafe_function(m->tsfn, NULL, napi_tsfn_nonblocking) ==
      napi_ok)
    m->scheduled = true;
}

static void report(pump_mapping *m, int failed_errno, bool exhausted) {
  pthread_mutex_lock(&m->lock);
  m->ev_closed++;
  if (failed_errno != 0) {
    m->ev_failed++;
    m->ev_errno = failed_errno;
    m->target_down = true;
    m->ev_reached = false;
  }
  if (exhausted)
    m->ev_exhausted++;
  schedule_locked(m);
  pthread_mutex_unlock(&m->lock);
}

/* A target connection is up: if the last one had failed, JS is told the
 * target answers again (its lastTargetError is no longer true). */
static void note_reached(pump_mapping *m) {
  pthread_mutex_lock(&m->lock);
  if (m->target_down) {
    m->target_down = false;
    m->ev_reached = true;
    schedule_locked(m);
  }
  pthread_mutex_unlock(&m->lock);
}

/* ---- connections ------------------------------------------------------------ */

static void unlink_connecting(pump_pair *p) {
  if (!p->connecting)
    return;
  p->connecting = false;
  if (p->cprev != NULL)
    p->cprev->cnext = p->cnext;
  else
    connecting = p->cnext;
  if (p->cnext != NULL)
    p->cnext->cprev = p->cprev;
  p->cprev = p->cnext = NULL;
}

static void end_pair(pump_pair *p, bool reset, int failed_errno,
                     bool exhausted) {
  pump_mapping *m = p->mapping;
  if (p->dead)
    return;
  p->dead = true;
  unlink_connecting(p);
  if (p->prev != NULL)
    p->prev->next = p->next;
  else
    m->pairs = p->next;
  if (p->next != NULL)
    p->next->prev = p->prev;
  for (int i = 0; i < 2; i++) {
    if (reset) {
      /* SO_LINGER {on, 0 s}: close() sends RST instead of FIN, so the peer
       * learns plainly that its other side failed (as socat and the JS
       * forwarder's resetAndDestroy do), rather than seeing a clean end. */
      struct linger lg = {1, 0};
      (void)setsockopt(p->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(p->fd[i]); /* also drops it from the poller */
    atomic_fetch_sub(&m->queued, (int_least64_t)p->dir[i].queued);
    pump_dir_release(&p->dir[i]);
  }
  p->next_dead = dead;
  dead = p;
  if (--open_pairs == 0)
    pump_idle();
  report(m, failed_errno, exhausted);
}

void pump_pair_end(pump_pair *p, bool reset, bool exhausted) {
  end_pair(p, reset, 0, exhausted);
}

void pump_count_read(pump_pair *p, int d, size_t n) {
  atomic_fetch_add(d == 0 ? &p->mapping->bytes_in : &p->mapping->bytes_out, n);
  atomic_fetch_add(&p->mapping->queued, (int_least64_t)n);
}

void pump_count_written(pump_pair *p, size_t n) {
  atomic_fetch_sub(&p->mapping->queued, (int_least64_t)n);
}

/* True once the target's connect() finished; fails the pair if it failed. */
static bool connected(pump_pair *p) {
  int err = 0;
  socklen_t len = sizeof(err);
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof(peer);
  /* SO_ERROR holds the outcome of a non-blocking connect (and clears it). */
  if (getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  if (err != 0) {
    if (pump_try_other_address(p))
      return false; /* connecting again, to the other address */
    /* The target is down: the client gets a reset, JS the reason. */
    end_pair(p, true, err, err == EMFILE || err == ENFILE);
    return false;
  }
  /* No error yet and no peer: still connecting (the event was the client's). */
  if (getpeername(p->fd[1], (struct sockaddr *)&peer, &peer_len) != 0)
    return false;
  unlink_connecting(p);
  note_reached(p->mapping);
  return true;
}

void pump_pair_ready(pump_pair *p, int fd, unsigned events) {
  bool more = false;
  /* Direction i reads from fd[i]. */
  if (fd >= 0 && (events & PUMP_EV_READ) != 0)
    p->dir[fd].readable = true;
  if (fd >= 0 && (events & PUMP_EV_EXACT) != 0)
    p->dir[fd].exact = true; /* for the rest of the connection */
  if (fd >= 0 && (events & PUMP_EV_EXACT) != 0 && p->dir[fd].eof &&
      !p->connecting) {
    /* A socket whose FIN was read is not read again, so a reset that comes
     * after it (the peer closed, then refused what was still sent to it)
     * is seen here: it resets the other side, as a reset before the FIN
     * does, instead of leaving that side half-open. */
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(p->fd[fd], SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
        err != 0) {
      pump_pair_end(p, true, false);
      return;
    }
  }
  /* Like pauseOnConnect in the JS forwarder: nothing is read from the client
   * until the target is up, so nothing is buffered for a target that is down. */
  if (p->connecting && !connected(p))
    return;
  for (int d = 0; d < 2; d++) {
    if (p->dir[d].shut)
      continue;
    int err = pump_move(p, d);
    if (err == PUMP_MORE) {
      more = true;
    } else if (err != 0) {
      /* A reset or error on either side resets the other one too. */
      pump_pair_end(p, true, false);
      return;
    }
  }
  /* Both FINs passed on: a clean end. */
  if (p->dir[0].shut && p->dir[1].shut) {
    pump_pair_end(p, false, false);
  } else if (more && !p->ready_queued) {
    /* Its turn is over with bytes still waiting: no new edge will say so,
     * so it goes to the back of the line (run_ready). */
    p->ready_queued = true;
    p->next_ready = NULL;
    if (ready_tail != NULL)
      ready_tail->next_ready = p;
    else
      ready_head = p;
    ready_tail = p;
  }
}

/* The pairs whose turn ended, once each; those queued meanwhile wait for
 * the next round. Runs before free_dead, so no pair on it is freed yet. */
static void run_ready(void) {
  pump_pair *p = ready_head;
  ready_head = ready_tail = NULL;
  while (p != NULL) {
    pump_pair *next = p->next_ready;
    p->ready_queued = false;
    if (!p->dead)
      pump_pair_ready(p, -1, 0);
    p = next;
  }
}

static void start_pair(pump_pair *p) {
  pump_mapping *m = p->mapping;
  p->next = m->pairs;
  if (m->pairs != NULL)
    m->pairs->prev = p;
  m->pairs = p;
  open_pairs++;
  if (m->closed) {
    pump_pair_end(p, false, false);
    return;
  }
  int err = pump_poller_add(p);
  if (err != 0) {
    pump_pair_end(p, true, err == ENOMEM || err == ENOSPC);
    return;
  }
  p->connecting = true;
  p->deadline_ms = now_ms() + m->connect_timeout_ms;
  p->cnext = connecting;
  if (connecting != NULL)
    connecting->cprev = p;
  connecting = p;
  /* Watching started after connect(): the first readiness is reported by the
   * poller on registration, so a connect that already finished is seen. */
}

static void close_mapping(pump_mapping *m) {
  if (m->closed)
    return;
  m->closed = true;
  /* As the JS forwarder's close() destroys its sockets: a plain close. */
  while (m->pairs != NULL)
    pump_pair_end(m->pairs, false, false);
  pthread_mutex_lock(&m->lock);
  m->ev_finished = true;
  if (!m->env_gone && !m->released) {
    schedule_locked(m);
    /* Queued calls still run before the function is finalized. */
    napi_release_threadsafe_function(m->tsfn, napi_tsfn_release);
  }
  m->released = true;
  pthread_mutex_unlock(&m->lock);
}

static void run_commands(void) {
  pump_cmd *cmd;
  pthread_mutex_lock(&queue_lock);
  cmd = queue_head;
  queue_head = queue_tail = NULL;
  pthread_mutex_unlock(&queue_lock);
  while (cmd != NULL) {
    pump_cmd *next = cmd->next;
    if (cmd->pair != NULL) {
      start_pair(cmd->pair);
    } else {
      close_mapping(cmd->mapping);
      pump_mapping_unref(cmd->mapping); /* the command's reference */
    }
    cmd = next;
  }
}

/* Targets that neither accepted nor refused in time count as down. */
static int expire_connects(void) {
  int64_t now = now_ms(), next = -1;
  pump_pair *p = connecting;
  while (p != NULL) {
    pump_pair *after = p->cnext;
    if (p->deadline_ms <= now)
      end_pair(p, true, ETIMEDOUT, false);
    else if (next < 0 || p->deadline_ms - now < next)
      next = p->deadline_ms - now;
    p = after;
  }
  return next > INT32_MAX ? INT32_MAX : (int)next;
}

static void free_dead(void) {
  while (dead != NULL) {
    pump_pair *p = dead;
    dead = p->next_dead;
    pump_mapping_unref(p->mapping);
    free(p);
  }
}

static void *pump_main(void *arg) {
  (void)arg;
  int timeout = -1;
  for (;;) {
    /* With connections waiting for another turn, only look for news. */
    if (pump_poller_wait(ready_head != NULL ? 0 : timeout))
      run_commands();
    run_ready();
    timeout = connecting != NULL ? expire_connects() : -1;
    free_dead();
  }
  return NULL;
}

/* ---- JS thread side ---------------------------------------------------------- */

void pump_enqueue(pump_cmd *cmd) {
  cmd->next = NULL;
  pthread_mutex_lock(&queue_lock);
  if (queue_tail != NULL)
    queue_tail->next = cmd;
  else
    queue_head = cmd;
  queue_tail = cmd;
  pthread_mutex_unlock(&queue_lock);
  pump_poller_wake();
}

void pump_request_close(pump_mapping *m) {
  if (atomic_exchange(&m->close_requested, true))
    return;
  atomic_fetch_add(&m->refs, 1); /* dropped when the command has run */
  m->close_cmd.pair = NULL;
  m->close_cmd.mapping = m;
  pump_enqueue(&m->close_cmd);
}

int pump_start(const char **syscall) {
  int err = 0;
  pthread_mutex_lock(&start_lock);
  if (!poller_ready) {
#ifdef __APPLE__
    *syscall = "kqueue";
#else
    *syscall = "epoll_create1";
#endif
    err = pump_poller_open();
    poller_ready = err == 0;
  }
  if (err == 0 && !thread_running) {
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    *syscall = "pthread_create";
    /* Every signal blocked in the pump thread (it inherits the mask), so
     * signals for the process are handled by Node's threads as before. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_attr_init(&attr);
    if (err == 0) {
      /* Detached: it runs for the life of the process, nobody joins it. */
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      err = pthread_create(&thread, &attr, pump_main, NULL);
      pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    thread_running = err == 0;
  }
  pthread_mutex_unlock(&start_lock);
  return err;
}
