// WebSocket fan-out load generator in C: N clients of one system, one thread, epoll.
//
// The same measuring program as loadgen.js (same options, progress lines, result and
// histogram), for the scenarios where the JavaScript one is the slower side: flat out at 5,000
// clients it spent 99 % of its core on the app's stream (86 % on the reference's), so the
// app's flat-out latency was the generator's own queue (docs/performance.md, "What the fan-out
// numbers say"). Per delivery this one spends a read() and a memmem() in user space, where
// loadgen.js runs a JavaScript callback. Only the ticker stamp (--stamp bench) is read here;
// the Home-Assistant-fed run (--stamp last_updated) and the fleet (--targets) keep
// loadgen.js. bench/fanout/harness.py builds it with the system's cc on first use.
//
// Timeline: connect every client (at most --concurrency handshakes in flight), wait --warmup
// seconds, measure for --seconds, print one JSON result line and exit. Unlike loadgen.js, no
// connection is started after --connect-timeout: the window measures who connected by then. Progress lines on
// stdout, one JSON object each: {"event": "connected" | "window_start" | "window_end" |
// "result", ...}.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, HANDSHAKE, OPEN, CLOSED };

typedef struct {
  int fd;
  int state;
  int finished;   // connected or failed: counted once
  uint8_t *pending;  // a partial frame (or response head) kept for the next read
  size_t pending_len, pending_cap;
  int64_t last_sent;
  int64_t last_seq;
} Conn;

// Latency histogram: 10 us buckets to 100 ms, then 1 ms buckets to 120 s (loadgen.js's).
#define FINE 10000
#define COARSE 120000
static double histogram[FINE + COARSE + 1];

static struct {
  int port, clients, concurrency;
  double warmup, seconds, connect_timeout;
  const char *path, *token;
} args = {0, 1000, 256, 2, 10, 60, "/ws/monitoring/sim-rooftop", "bench"};

static struct {
  long deliveries, repeats, skipped, unparsed, closed_during_window;
  long frame_min, frame_max;
  double latency_sum_us, latency_max_us;
} stats = {0, 0, 0, 0, 0, 1L << 62, 0, 0, 0};

static int measuring;
static long connected, failed, open_count;
static int epfd;
static Conn *conns;

// Small string-keyed counters for failures and close codes, printed as JSON objects.
typedef struct { char key[48]; long count; } Counter;
static Counter failures[32], close_codes[32];

static void count(Counter *table, const char *key) {
  for (int i = 0; i < 32; i++) {
    if (table[i].count && strcmp(table[i].key, key) == 0) { table[i].count++; return; }
    if (!table[i].count) {
      snprintf(table[i].key, sizeof table[i].key, "%s", key);
      table[i].count = 1;
      return;
    }
  }
}

static void print_counters(const Counter *table) {
  printf("{");
  for (int i = 0, first = 1; i < 32 && table[i].count; i++, first = 0)
    printf("%s\"%s\": %ld", first ? "" : ", ", table[i].key, table[i].count);
  printf("}");
}

static int64_t monotonic_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *errno_name(int err) {
  switch (err) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EPIPE: return "EPIPE";
    case EMFILE: return "EMFILE";
    default: return "socket error";
  }
}

static void fail(Conn *c, const char *reason) {
  if (c->state == CLOSED) return;
  if (!c->finished) {
    c->finished = 1;
    failed++;
    count(failures, reason);
  }
  close(c->fd);
  c->state = CLOSED;
  free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_cap = 0;
}

static void closed(Conn *c) {
  if (c->state == OPEN) {
    open_count--;
    if (measuring) stats.closed_during_window++;
    close(c->fd);
    c->state = CLOSED;
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_cap = 0;
  } else {
    fail(c, "closed before upgrade");
  }
}

static int64_t read_number(const uint8_t *buf, size_t from, size_t end) {
  int64_t value = 0;
  for (size_t i = from; i < end && buf[i] >= '0' && buf[i] <= '9'; i++) value = value * 10 + (buf[i] - '0');
  return value;
}

static void record(Conn *c, const uint8_t *buf, size_t start, size_t end) {
  static const char SEQ[] = "\"seq\":", SENT[] = "\"sent_us\":";
  int64_t now = monotonic_us();
  const uint8_t *seq_at = memmem(buf + start, end - start, SEQ, sizeof SEQ - 1);
  const uint8_t *sent_at = memmem(buf + start, end - start, SENT, sizeof SENT - 1);
  size_t seq_from = seq_at ? (size_t)(seq_at - buf) + sizeof SEQ - 1 : end;
  size_t sent_from = sent_at ? (size_t)(sent_at - buf) + sizeof SENT - 1 : end;
  // A stamp without digits is no stamp (loadgen.js counts it unparsed too).
  if (seq_from >= end || sent_from >= end || buf[sent_from] < '0' || buf[sent_from] > '9') {
    if (measuring) stats.unparsed++;
    return;
  }
  int64_t seq = read_number(buf, seq_from, end);
  int64_t sent = read_number(buf, sent_from, end);
  // Stamps only grow: an older or equal one is a repeat (the every-5-s re-send).
  if (sent <= c->last_sent) {
    if (measuring) stats.repeats++;
    return;
  }
  int64_t gap = c->last_seq > 0 && seq > 0 ? seq - c->last_seq - 1 : 0;
  c->last_sent = sent;
  c->last_seq = seq;
  if (!measuring) return;
  stats.skipped += gap;
  double latency = (double)(now - sent);
  long size = (long)(end - start);
  stats.deliveries++;
  if (size < stats.frame_min) stats.frame_min = size;
  if (size > stats.frame_max) stats.frame_max = size;
  stats.latency_sum_us += latency;
  if (latency > stats.latency_max_us) stats.latency_max_us = latency;
  long bucket = latency < 100000 ? (long)((latency < 0 ? 0 : latency) / 10)
                                 : FINE + (long)((latency - 100000) / 1000);
  if (bucket > FINE + COARSE) bucket = FINE + COARSE;
  histogram[bucket] += 1;
}

static void keep(Conn *c, const uint8_t *from, size_t len) {
  if (c->pending_cap < len) {
    c->pending_cap = len < 4096 ? 4096 : len;
    c->pending = realloc(c->pending, c->pending_cap);
    if (!c->pending) { perror("realloc"); exit(1); }
  }
  memmove(c->pending, from, len);
  c->pending_len = len;
}

// Frames in buf[0, total); a partial one is kept for the next read.
static void frames(Conn *c, const uint8_t *buf, size_t total) {
  size_t off = 0;
  while (total - off >= 2) {
    uint8_t b0 = buf[off], b1 = buf[off + 1];
    uint64_t len = b1 & 0x7f;
    size_t header = 2;
    if (len == 126) {
      if (total - off < 4) break;
      len = ((uint64_t)buf[off + 2] << 8) | buf[off + 3];
      header = 4;
    } else if (len == 127) {
      if (total - off < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | buf[off + 2 + i];
      header = 10;
    }
    if (b1 & 0x80) header += 4;  // a masked server frame is a protocol error; skip the key
    if (len > (uint64_t)(total - off)) break;  // also keeps header + len from wrapping
    if (total - off < header + len) break;
    size_t start = off + header, end = start + (size_t)len;
    int opcode = b0 & 0x0f;
    if (opcode == 1 || opcode == 2 || opcode == 0) {
      record(c, buf, start, end);
    } else if (opcode == 9 && len <= 125) {
      uint8_t pong[6 + 125] = {0x8a, (uint8_t)(0x80 | len), 0, 0, 0, 0};  // zero mask key
      memcpy(pong + 6, buf + start, (size_t)len);
      if (write(c->fd, pong, 6 + (size_t)len) < 0) { /* the read side will see the close */ }
    } else if (opcode == 8) {
      char code[16];
      snprintf(code, sizeof code, "%d", len >= 2 ? (buf[start] << 8) | buf[start + 1] : 1005);
      count(close_codes, code);
    }
    off = end;
  }
  if (off < total) keep(c, buf + off, total - off);
  else c->pending_len = 0;
}

static void handshake(Conn *c) {
  uint8_t *head = c->pending;
  uint8_t *end = memmem(head, c->pending_len, "\r\n\r\n", 4);
  if (!end) {
    if (c->pending_len > 16384) fail(c, "response head too long");
    return;
  }
  if (c->pending_len < 12 || memcmp(head, "HTTP/1.1 101", 12) != 0) {
    char reason[16] = "http ???";
    // Only digits go into the JSON key; anything else stays "???".
    for (int i = 0; i < 3 && c->pending_len >= 12; i++)
      if (head[9 + i] >= '0' && head[9 + i] <= '9') reason[5 + i] = (char)head[9 + i];
    fail(c, reason);
    return;
  }
  c->state = OPEN;
  c->finished = 1;
  connected++;
  open_count++;
  size_t rest = c->pending_len - (size_t)(end + 4 - head);
  c->pending_len = 0;
  if (rest) {
    uint8_t *copy = malloc(rest);
    memcpy(copy, end + 4, rest);
    frames(c, copy, rest);
    free(copy);
  }
}

static uint8_t READ[65536];

static void append(Conn *c, const uint8_t *data, size_t n) {
  size_t need = c->pending_len + n;
  if (c->pending_cap < need) {
    c->pending_cap = need < 4096 ? 4096 : need;
    c->pending = realloc(c->pending, c->pending_cap);
    if (!c->pending) { perror("realloc"); exit(1); }
  }
  memcpy(c->pending + c->pending_len, data, n);
  c->pending_len = need;
}

static void readable(Conn *c) {
  ssize_t n = read(c->fd, READ, sizeof READ);
  if (n == 0) { closed(c); return; }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (c->state == OPEN) closed(c);
    else fail(c, errno_name(errno));
    return;
  }
  if (c->state == HANDSHAKE) {
    append(c, READ, (size_t)n);
    handshake(c);
  } else if (c->pending_len) {
    // Join the kept tail and this read; frames() keeps a new tail in a fresh buffer.
    append(c, READ, (size_t)n);
    uint8_t *joined = c->pending;
    size_t total = c->pending_len;
    c->pending = NULL;
    c->pending_len = c->pending_cap = 0;
    frames(c, joined, total);
    free(joined);
  } else {
    frames(c, READ, (size_t)n);
  }
}

static void start_connect(Conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) { c->state = CLOSED; c->finished = 1; failed++; count(failures, errno_name(errno)); return; }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)args.port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->state = CONNECTING;
  if (connect(c->fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) {
    fail(c, errno_name(errno));
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void writable(Conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) { fail(c, errno_name(err)); return; }
  char request[1024];
  int size = snprintf(request, sizeof request,
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
                      args.path, args.port, args.token);
  ssize_t wrote = write(c->fd, request, (size_t)size);
  if (wrote != size) { fail(c, wrote < 0 ? errno_name(errno) : "short write"); return; }
  c->state = HANDSHAKE;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void poll_once(int timeout_ms) {
  struct epoll_event events[1024];
  int n = epoll_wait(epfd, events, 1024, timeout_ms);
  for (int i = 0; i < n; i++) {
    Conn *c = events[i].data.ptr;
    if (c->state == CLOSED) continue;
    if (c->state == CONNECTING) {
      if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) writable(c);
    } else {
      readable(c);
    }
  }
}

static void run_for(double seconds) {
  int64_t until = monotonic_us() + (int64_t)(seconds * 1e6);
  for (int64_t now; (now = monotonic_us()) < until;) {
    int64_t left_ms = (until - now + 999) / 1000;
    poll_once(left_ms > 1000 ? 1000 : (int)left_ms);
  }
}

static void emit(const char *event) {
  printf("{\"event\": \"%s\", \"t_us\": %lld, \"open\": %ld}\n", event, (long long)monotonic_us(), open_count);
  fflush(stdout);
}

static double percentile_ms(double p) {
  if (!stats.deliveries) return -1;
  double rank = ceil((p / 100) * (double)stats.deliveries);
  double seen = 0;
  for (long b = 0; b <= FINE + COARSE; b++) {
    seen += histogram[b];
    if (seen >= rank) return (b < FINE ? (b + 1) * 10.0 : 100000 + (b - FINE + 1) * 1000.0) / 1000;
  }
  return -1;
}

static void print_ms(const char *name, double value, const char *sep) {
  if (value < 0) printf("\"%s\": null%s", name, sep);
  else printf("\"%s\": %.3f%s", name, value, sep);
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *key = argv[i], *value = argv[i + 1];
    if (!strcmp(key, "--port")) args.port = atoi(value);
    else if (!strcmp(key, "--clients")) args.clients = atoi(value);
    else if (!strcmp(key, "--concurrency")) args.concurrency = atoi(value);
    else if (!strcmp(key, "--warmup")) args.warmup = atof(value);
    else if (!strcmp(key, "--seconds")) args.seconds = atof(value);
    else if (!strcmp(key, "--connect-timeout")) args.connect_timeout = atof(value);
    else if (!strcmp(key, "--path")) args.path = value;
    else if (!strcmp(key, "--token")) args.token = value;
    else if (!strcmp(key, "--stamp")) {
      if (strcmp(value, "bench")) { fprintf(stderr, "only --stamp bench (use loadgen.js)\n"); return 2; }
    } else { fprintf(stderr, "unknown option %s\n", key); return 2; }
  }
  epfd = epoll_create1(0);
  conns = calloc((size_t)args.clients, sizeof *conns);
  int64_t t0 = monotonic_us(), deadline = t0 + (int64_t)(args.connect_timeout * 1e6);
  long next = 0;
  // Connect: at most --concurrency attempts between starting and finishing.
  while (monotonic_us() < deadline) {
    long in_flight = next - connected - failed;
    while (next < args.clients && in_flight < args.concurrency) { start_connect(&conns[next++]); in_flight++; }
    if (connected + failed >= args.clients) break;
    poll_once(100);
  }
  printf("{\"event\": \"connected\", \"t_us\": %lld, \"connected\": %ld, \"failed\": %ld, \"open\": %ld, "
         "\"seconds\": %.3f, \"failures\": ",
         (long long)monotonic_us(), connected, failed, open_count, (double)(monotonic_us() - t0) / 1e6);
  print_counters(failures);
  printf("}\n");
  fflush(stdout);
  run_for(args.warmup);
  int64_t start = monotonic_us();
  measuring = 1;
  emit("window_start");
  run_for(args.seconds);
  measuring = 0;
  double seconds = (double)(monotonic_us() - start) / 1e6;
  emit("window_end");
  printf("{\"event\": \"result\", \"t_us\": %lld, \"clients\": %d, \"connected\": %ld, \"failed\": %ld, "
         "\"failures\": ", (long long)monotonic_us(), args.clients, connected, failed);
  print_counters(failures);
  printf(", \"open\": %ld, \"seconds\": %.3f, \"deliveries\": %ld, \"deliveries_per_s\": %.1f, "
         "\"repeats\": %ld, \"skipped\": %ld, \"unparsed\": %ld, \"closed_during_window\": %ld, "
         "\"close_codes\": ",
         open_count, seconds, stats.deliveries, (double)stats.deliveries / seconds, stats.repeats,
         stats.skipped, stats.unparsed, stats.closed_during_window);
  print_counters(close_codes);
  if (stats.deliveries) printf(", \"frame_bytes\": [%ld, %ld]", stats.frame_min, stats.frame_max);
  else printf(", \"frame_bytes\": null");
  printf(", \"latency_ms\": {");
  print_ms("mean", stats.deliveries ? stats.latency_sum_us / (double)stats.deliveries / 1000 : -1, ", ");
  print_ms("p50", percentile_ms(50), ", ");
  print_ms("p90", percentile_ms(90), ", ");
  print_ms("p99", percentile_ms(99), ", ");
  print_ms("max", stats.latency_max_us / 1000, "");
  printf("}}\n");
  fflush(stdout);
  return 0;
}
