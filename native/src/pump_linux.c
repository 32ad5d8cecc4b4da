/*
 * The data plane's Linux half: epoll for readiness; bulk bytes go through a
 * pipe with splice(2) (socket -> pipe -> socket inside the kernel: never
 * copied into user space), small ones with recv/send through one buffer (two
 * calls and no pipe: cheaper for a request or a reply). HAProxy's
 * splice-auto makes the same choice. pump_darwin.c mirrors this file with
 * kqueue and read/write.
 */
#ifdef __linux__
#include "pump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* A pipe holds this much in flight per direction (asked with F_SETPIPE_SZ;
 * the default 64 KiB costs more splice calls per byte at full speed, and
 * more than this only grows what back-pressure lets sit in the kernel). */
#define PIPE_SIZE (256 * 1024)
/* Empty pipes kept for the next burst instead of being closed and created
 * again: a pipe is only needed while bytes are in flight, so idle
 * connections hold no pipe (two descriptors each, not six). */
#define POOL_MAX 32
#define MAX_EVENTS 256
/* A read that fills this much says src is sending in bulk: the direction
 * splices from then on, until src has nothing. */
#define SMALL_READ (64 * 1024)
/* The pump thread's buffer for small reads (pump_move runs there alone). */
static unsigned char scratch[SMALL_READ];

static int epfd = -1;
static int wakefd = -1;
static struct {
  int r, w;
  size_t cap;
} pool[POOL_MAX];
static int pooled;

int pump_poller_open(void) {
  struct epoll_event ev = {0};
  /* EPOLL_CLOEXEC / EFD_CLOEXEC: a child spawned by the app must not inherit
   * them. EFD_NONBLOCK: draining the counter never blocks the pump thread. */
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0)
    return errno;
  wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd < 0) {
    int err = errno;
    close(epfd);
    epfd = -1;
    return err;
  }
  ev.events = EPOLLIN; /* level-triggered: read until drained below */
  ev.data.u64 = 0;     /* 0 marks the wake-up channel */
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) {
    int err = errno;
    close(wakefd);
    close(epfd);
    epfd = wakefd = -1;
    return err;
  }
  return 0;
}

int pump_poller_add_fd(pump_pair *p, int i) {
  struct epoll_event ev = {0};
  /* Edge-triggered, both ways, registered once for the socket's life: no
   * epoll_ctl per state change. It is safe because epoll reports every
   * arrival (bytes, FIN, error, write space) after the last event was
   * taken, and pump_move reads until a read would block, or until a short
   * read that empties the socket (move_small says when that holds).
   * EPOLLERR/EPOLLHUP come unasked. */
  /* EPOLLRDHUP / EPOLLPRI: the FIN and urgent data are told apart from
   * plain bytes (pump_move's short-read rule needs to know). */
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  /* The pair and which of its sockets, in one word: a pair comes from calloc
   * (aligned to at least 8), so its address's low bit is free for i. */
  ev.data.u64 = (uint64_t)(uintptr_t)p | (uint64_t)i;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd[i], &ev) != 0 ? errno : 0;
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
  struct epoll_event events[MAX_EVENTS];
  bool woken = false;
  int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
  for (int i = 0; i < n; i++) {
    uint64_t tag = events[i].data.u64;
    pump_pair *p = (pump_pair *)(uintptr_t)(tag & ~(uint64_t)1);
    if (p == NULL) {
      uint64_t count;
      while (read(wakefd, &count, sizeof(count)) > 0) {
      }
      woken = true;
    } else if (!p->dead) {
      /* Both sockets of one pair may be in this batch; a pair closed by the
       * first is only freed after the batch (pump.c), and skipped here. */
      /* EPOLLRDHUP/ERR/HUP/PRI count as readable: the read tells the FIN,
       * the error or the bytes. EPOLLOUT alone lets a waiting write go on. */
      uint32_t ev = events[i].events, end = EPOLLRDHUP | EPOLLERR | EPOLLHUP | EPOLLPRI;
      unsigned what = (ev & (EPOLLIN | end)) != 0 ? PUMP_EV_READ : 0;
      if ((ev & end) != 0)
        what |= PUMP_EV_EXACT;
      pump_pair_ready(p, (int)(tag & 1), what);
    }
  }
  return woken;
}

void pump_poller_wake(void) {
  uint64_t one = 1;
  /* EAGAIN means the counter is already non-zero: the thread wakes anyway. */
  ssize_t rc = write(wakefd, &one, sizeof(one));
  (void)rc;
}

static int pipe_get(pump_dir *d) {
  int fds[2];
  if (pooled > 0) {
    pooled--;
    d->pipe_r = pool[pooled].r;
    d->pipe_w = pool[pooled].w;
    d->pipe_cap = pool[pooled].cap;
    return 0;
  }
  /* O_NONBLOCK: a full or empty pipe answers EAGAIN instead of stalling the
   * one thread that serves every connection. O_CLOEXEC: never inherited. */
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    return errno;
  int cap = fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
  if (cap < 0) /* over the user's pipe quota: keep the default size */
    cap = fcntl(fds[1], F_GETPIPE_SZ);
  d->pipe_r = fds[0];
  d->pipe_w = fds[1];
  d->pipe_cap = cap > 0 ? (size_t)cap : 4096;
  return 0;
}

/* Bytes in the pipe: queued counts them, or the leftover of a small read
 * (the pipe is empty while there is one). */
static size_t in_pipe(const pump_dir *d) { return d->buf != NULL ? 0 : d->queued; }

/* Back to the pool only when empty: bytes left in a pipe belong to its pair. */
static void pipe_put(pump_dir *d) {
  if (d->pipe_r < 0)
    return;
  if (in_pipe(d) == 0 && pooled < POOL_MAX) {
    pool[pooled].r = d->pipe_r;
    pool[pooled].w = d->pipe_w;
    pool[pooled].cap = d->pipe_cap;
    pooled++;
  } else {
    close(d->pipe_r);
    close(d->pipe_w);
  }
  d->pipe_r = d->pipe_w = -1;
}

void pump_dir_release(pump_dir *d) {
  pipe_put(d);
  free(d->buf);
  d->buf = NULL;
}

void pump_idle(void) {
  while (pooled > 0) {
    pooled--;
    close(pool[pooled].r);
    close(pool[pooled].w);
  }
}

/* SPLICE_F_MOVE: move the pages instead of copying where the kernel can.
 * SPLICE_F_NONBLOCK: never block on the pipe (the sockets and the pipe are
 * O_NONBLOCK too), so one slow peer cannot stall the thread. */
#define SPLICE_FLAGS (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
/* MSG_NOSIGNAL: a gone peer is EPIPE, never a SIGPIPE. */
#define SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)

/* A small read: recv into the scratch buffer and send it on at once; what
 * dst cannot take now waits in d->buf, and nothing more is read until it
 * went (back-pressure). Only with the pipe empty, so the order holds.
 * 1: moved something or saw the FIN; 0: src had nothing; or -errno. */
static int move_small(pump_pair *p, int which, size_t *turn) {
  pump_dir *d = &p->dir[which];
  ssize_t n = recv(d->src, scratch, sizeof(scratch), MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EINTR)
      return 1; /* nothing lost: read again */
    if (errno != EAGAIN)
      return -errno;
    d->readable = false; /* its next bytes are a new edge */
    return 0;
  }
  if (n == 0) {
    d->eof = true; /* the FIN; passed on once nothing is queued */
    return 1;
  }
  /* Counted as queued until sent: on a failure below, end_pair takes off
   * what never went, so the mapping's queued figure ends at 0. */
  pump_count_read(p, which, (size_t)n);
  d->queued = (size_t)n;
  ssize_t sent = send(d->dst, scratch, (size_t)n, SEND_FLAGS);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EINTR)
      return -errno;
    sent = 0;
  }
  pump_count_written(p, (size_t)sent);
  d->queued -= (size_t)sent;
  *turn += (size_t)sent;
  if (d->queued > 0) {
    d->buf = malloc(d->queued);
    if (d->buf == NULL)
      return -ENOMEM;
    memcpy(d->buf, scratch + sent, d->queued);
    d->off = 0;
  }
  if ((size_t)n == sizeof(scratch)) {
    d->bulk = true; /* more is likely waiting: the pipe takes it */
  } else if (!d->exact) {
    /* A short read emptied src: TCP's recv stops early only at its end,
     * an error or urgent data, and those come with EPOLLRDHUP, EPOLLERR or
     * EPOLLPRI (exact). So no read that would only say EAGAIN: bytes that
     * arrive from now on, even while this thread reads, wake the poller
     * again (epoll reports each arrival after the last event was taken;
     * HAProxy reads the same way). */
    d->readable = false;
  }
  return 1;
}

int pump_move(pump_pair *p, int which) {
  pump_dir *d = &p->dir[which];
  size_t turn = 0;
  for (;;) {
    bool progressed = false;
    if (turn >= PUMP_TURN_BYTES)
      return PUMP_MORE;
    if (d->buf != NULL) {
      /* A small read's leftover goes out before anything else is read. */
      ssize_t n = send(d->dst, d->buf + d->off, d->queued, SEND_FLAGS);
      if (n > 0) {
        d->off += (size_t)n;
        d->queued -= (size_t)n;
        pump_count_written(p, (size_t)n);
        turn += (size_t)n;
        progressed = true;
        if (d->queued == 0) {
          free(d->buf);
          d->buf = NULL;
        }
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno != EAGAIN) {
        return errno;
      }
      /* EAGAIN: dst is full; its EPOLLOUT edge brings us back here. */
    } else if (!d->eof && d->readable && !d->bulk && d->queued == 0) {
      int r = move_small(p, which, &turn);
      if (r < 0)
        return -r;
      progressed = r > 0;
    } else if (!d->eof && d->readable &&
               (d->pipe_r < 0 || d->queued < d->pipe_cap)) {
      if (d->pipe_r < 0) {
        int err = pipe_get(d);
        if (err == EMFILE || err == ENFILE || err == ENOMEM) {
          /* No descriptor for a pipe (the process or the system is at its
           * limit): this direction goes on with small reads, slower but
           * never failing for it, and tries for a pipe again at its next
           * full read. Only sockets count in the JS budget. */
          d->bulk = false;
          continue;
        }
        if (err != 0)
          return err;
      }
      ssize_t n = splice(d->src, NULL, d->pipe_w, NULL, d->pipe_cap - d->queued,
                         SPLICE_FLAGS);
      if (n > 0) {
        d->queued += (size_t)n;
        pump_count_read(p, which, (size_t)n);
        progressed = true;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno != EAGAIN) {
        return errno;
      } else if (d->queued == 0) {
        /* src has nothing to splice: back to small reads, and one recv
         * now. splice stops at urgent data: EAGAIN there, or 0 once the FIN
         * is in too, so its 0 is not taken for the end: recv says 0 only
         * at the end, and reads past the urgent byte. With bytes in the
         * pipe, EAGAIN may instead mean the pipe is full (its slots run out
         * before its bytes when segments are small): src stays readable
         * and is read again once the drain made room. */
        d->bulk = false;
        progressed = true;
      }
    }
    if (d->buf == NULL && d->queued > 0) {
      ssize_t n = splice(d->pipe_r, NULL, d->dst, NULL, d->queued, SPLICE_FLAGS);
      if (n > 0) {
        d->queued -= (size_t)n;
        pump_count_written(p, (size_t)n);
        turn += (size_t)n;
        progressed = true;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno != EAGAIN) {
        return errno;
      }
      /* EAGAIN: dst's buffer is full; reading src waits (back-pressure)
       * until dst's EPOLLOUT edge brings us back here. */
    }
    if (!progressed)
      break;
  }
  if (d->queued == 0)
    pipe_put(d);
  if (d->eof && d->queued == 0 && !d->shut) {
    /* Half-close: everything before the FIN was delivered, so pass the FIN
     * on and keep the other direction open for the reply. */
    if (shutdown(d->dst, SHUT_WR) != 0)
      return errno;
    d->shut = true;
  }
  return 0;
}

#endif /* __linux__ */
