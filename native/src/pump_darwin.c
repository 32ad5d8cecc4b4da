/*
 * The data plane's macOS half: kqueue for readiness, read/write through a
 * buffer per direction for the bytes (macOS has no splice). It mirrors
 * pump_linux.c function for function; the state machine is pump.c's.
 * Compile-checked in the macOS CI job only: keep it this small.
 */
#if defined(__APPLE__)
#include "pump.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Bytes in flight per direction: as much as one read takes. */
#define BUF_SIZE (64 * 1024)
/* Empty buffers kept for the next burst (as pump_linux.c keeps pipes):
 * idle connections hold none. */
#define POOL_MAX 32
#define MAX_EVENTS 256
/* The wake-up channel's EVFILT_USER ident. */
#define WAKE_IDENT 1

static int kq = -1;
static unsigned char *pool[POOL_MAX];
static int pooled;

int pump_poller_open(void) {
  struct kevent ev;
  kq = kqueue();
  if (kq < 0)
    return errno;
  /* Not inherited by a child that execs (kqueues are never inherited by
   * fork, but the descriptor number would be). */
  if (berth_set_cloexec(kq) != 0) {
    int err = errno;
    close(kq);
    kq = -1;
    return err;
  }
  /* EVFILT_USER + EV_CLEAR: a user event other threads trigger (NOTE_TRIGGER)
   * to wake the pump thread; it resets itself once delivered. */
  EV_SET(&ev, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
  if (kevent(kq, &ev, 1, NULL, 0, NULL) != 0) {
    int err = errno;
    close(kq);
    kq = -1;
    return err;
  }
  return 0;
}

int pump_poller_add_fd(pump_pair *p, int i) {
  struct kevent ev[2];
  /* EV_CLEAR is kqueue's edge trigger (as EPOLLET on Linux): registered
   * once, reported on each change; pump_move goes on until EAGAIN. */
  EV_SET(&ev[0], p->fd[i], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, p);
  EV_SET(&ev[1], p->fd[i], EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, p);
  return kevent(kq, ev, 2, NULL, 0, NULL) != 0 ? errno : 0;
}

int pump_poller_add(pump_pair *p) {
  for (int i = 0; i < 2; i++) {
    int err = pump_poller_add_fd(p, i);
    if (err != 0)
      return err;
  }
  return 0;
}

bool pump_poller_wait(int timeout_ms) {
  struct kevent events[MAX_EVENTS];
  struct timespec ts, *tsp = NULL;
  bool woken = false;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    tsp = &ts;
  }
  int n = kevent(kq, NULL, 0, events, MAX_EVENTS, tsp);
  for (int i = 0; i < n; i++) {
    if (events[i].filter == EVFILT_USER) {
      woken = true;
      continue;
    }
    pump_pair *p = events[i].udata;
    /* Freed only after the batch (pump.c): a pair closed by an earlier
     * event of this batch is skipped. */
    if (p != NULL && !p->dead) {
      /* EVFILT_READ, or an end or error on either filter: the read tells. */
      bool readable = events[i].filter == EVFILT_READ ||
                      (events[i].flags & (EV_EOF | EV_ERROR)) != 0;
      unsigned what = readable ? PUMP_EV_READ : 0;
      if ((events[i].flags & (EV_EOF | EV_ERROR)) != 0)
        what |= PUMP_EV_EXACT;
      pump_pair_ready(p, (int)events[i].ident == p->fd[0] ? 0 : 1, what);
    }
  }
  return woken;
}

void pump_poller_wake(void) {
  struct kevent ev;
  EV_SET(&ev, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
  (void)kevent(kq, &ev, 1, NULL, 0, NULL);
}

static int buf_get(pump_dir *d) {
  if (pooled > 0) {
    d->buf = pool[--pooled];
    return 0;
  }
  d->buf = malloc(BUF_SIZE);
  return d->buf != NULL ? 0 : ENOMEM;
}

static void buf_put(pump_dir *d) {
  if (d->buf == NULL)
    return;
  if (pooled < POOL_MAX)
    pool[pooled++] = d->buf;
  else
    free(d->buf);
  d->buf = NULL;
  d->off = 0;
}

void pump_dir_release(pump_dir *d) { buf_put(d); }

void pump_idle(void) {
  while (pooled > 0)
    free(pool[--pooled]);
}

int pump_move(pump_pair *p, int which) {
  pump_dir *d = &p->dir[which];
  size_t turn = 0;
  for (;;) {
    bool progressed = false;
    if (turn >= PUMP_TURN_BYTES)
      return PUMP_MORE;
    /* One buffer per direction: read again only once it was written out,
     * which is the back-pressure (a full dst stops reads from src). */
    if (!d->eof && d->readable && d->queued == 0) {
      if (d->buf == NULL && buf_get(d) != 0)
        return ENOMEM;
      ssize_t n = read(d->src, d->buf, BUF_SIZE);
      if (n > 0) {
        d->off = 0;
        d->queued = (size_t)n;
        pump_count_read(p, which, (size_t)n);
        progressed = true;
      } else if (n == 0) {
        d->eof = true;
        progressed = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN) {
        return errno;
      } else {
        d->readable = false; /* its next bytes are a new event */
      }
    }
    if (d->queued > 0) {
      /* The sockets carry SO_NOSIGPIPE: a gone peer is EPIPE, not a signal. */
      ssize_t n = write(d->dst, d->buf + d->off, d->queued);
      if (n > 0) {
        d->off += (size_t)n;
        d->queued -= (size_t)n;
        pump_count_written(p, (size_t)n);
        turn += (size_t)n;
        progressed = true;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno != EAGAIN) {
        return errno;
      }
    }
    if (!progressed)
      break;
  }
  if (d->queued == 0)
    buf_put(d);
  if (d->eof && d->queued == 0 && !d->shut) {
    /* Half-close: pass the FIN on once everything before it was written. */
    if (shutdown(d->dst, SHUT_WR) != 0)
      return errno;
    d->shut = true;
  }
  return 0;
}

#endif /* __APPLE__ */
