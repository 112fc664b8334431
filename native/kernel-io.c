/*
 * The kernel calls porthole needs and Node.js does not expose. For blob downloads: sendfile(2)
 * from a file to a socket, and the wait for that socket to become writable again.
 *
 * Why native: without it every blob byte is read into a JavaScript Buffer and written back out
 * (two copies and a fresh allocation per chunk); with it the kernel moves page-cache pages to the
 * socket directly, as Go's net/http does for distribution.
 *
 * The socket stays non-blocking (it is the event loop's), so a send never waits on a slow client:
 *   send(outFd, inFd, offset, length, callback(errorCode | null, bytesSent))
 *     sends on a thread of libuv's pool (a page-cache miss may read the disk) until `length`
 *     bytes are sent or the socket's buffer is full, and reports how far it got;
 *   waitWritable(fd, callback(errorCode | null)) -> handle, cancelWait(handle)
 *     waits on the event loop itself, as any socket write does, until the socket can take more.
 * `outFd` is a duplicate of the connection's descriptor made with dup(fd), owned by the caller,
 * so that a connection closed meanwhile can never turn the number into someone else's socket.
 *
 * And one thing for uploads:
 *   startWriteback(fd, offset, length, callback(errorCode | null))
 *     sync_file_range(SYNC_FILE_RANGE_WRITE) on a pool thread: starts writing those bytes to the
 *     disk without waiting for them, so that the fsync at commit finds little left to do.
 */
#define _GNU_SOURCE /* sync_file_range */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/types.h>
#include <fcntl.h>
#include <unistd.h>

#define CHECK(call)                                                         \
  do {                                                                      \
    if ((call) != napi_ok) {                                                \
      napi_throw_error(env, NULL, "porthole kernel-io: " #call " failed"); \
      return NULL;                                                          \
    }                                                                       \
  } while (0)

static int64_t int64_arg(napi_env env, napi_value value, int *ok) {
  int64_t out = 0;
  if (napi_get_value_int64(env, value, &out) != napi_ok) *ok = 0;
  return out;
}

/* Calls `callback(errorName | null, extra)` where errorName is libuv's name for -errno. */
static void call_back(napi_env env, napi_value callback, napi_async_context context, int error,
                      int has_extra, int64_t extra) {
  napi_value global, argv[2], result;
  napi_get_global(env, &global);
  if (error) napi_create_string_utf8(env, uv_err_name(-error), NAPI_AUTO_LENGTH, &argv[0]);
  else napi_get_null(env, &argv[0]);
  napi_create_int64(env, has_extra ? extra : 0, &argv[1]);
  if (context) napi_make_callback(env, context, global, callback, 2, argv, &result);
  else napi_call_function(env, global, callback, 2, argv, &result);
}

/* ---- work on libuv's thread pool ------------------------------------------------------------ */

/*
 * One call that runs on a pool thread and reports back `callback(errorName | null, result)`:
 * `run` fills `error` (an errno) and `result`. The calls below differ only in `run` and in what
 * the numbers mean.
 */
typedef struct Job {
  void (*run)(struct Job *job);
  int64_t arg[4];
  int64_t result;
  int error;
  napi_ref callback;
  napi_async_work work;
} Job;

static void job_execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  job->run(job);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_value callback;
  napi_get_reference_value(env, job->callback, &callback);
  call_back(env, callback, NULL, status == napi_ok ? job->error : ECANCELED, 1, job->result);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job);
}

/*
 * Takes `count` non-negative integers and a callback from the JavaScript arguments and queues
 * `run` with them; throws a TypeError saying `usage` when they are not that.
 */
static napi_value queue_job(napi_env env, napi_callback_info info, size_t count, void (*run)(Job *), const char *name,
                            const char *usage) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int ok = argc == count + 1;
  napi_valuetype type = napi_undefined;
  if (ok) napi_typeof(env, argv[count], &type);
  Job job = {0};
  for (size_t i = 0; ok && i < count; i++) {
    job.arg[i] = int64_arg(env, argv[i], &ok);
    if (job.arg[i] < 0) ok = 0;
  }
  if (!ok || type != napi_function) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  Job *heap = malloc(sizeof *heap);
  if (!heap) {
    napi_throw_error(env, NULL, "porthole kernel-io: out of memory");
    return NULL;
  }
  *heap = job;
  heap->run = run;
  napi_value resource;
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource));
  CHECK(napi_create_reference(env, argv[count], 1, &heap->callback));
  CHECK(napi_create_async_work(env, NULL, resource, job_execute, job_complete, heap, &heap->work));
  CHECK(napi_queue_async_work(env, heap->work));
  return NULL;
}

/* ---- send ------------------------------------------------------------------------------------- */

/* arg: outFd, inFd, offset, length; result: bytes sent. */
static void send_run(Job *job) {
  int out_fd = (int)job->arg[0], in_fd = (int)job->arg[1];
  off_t offset = (off_t)job->arg[2];
  int64_t length = job->arg[3];
  while (job->result < length) {
    size_t want = (size_t)(length - job->result);
    /* Linux moves at most 0x7ffff000 bytes per call. */
    if (want > 0x7ffff000) want = 0x7ffff000;
    ssize_t n = sendfile(out_fd, in_fd, &offset, want);
    if (n > 0) {
      job->result += n;
      continue;
    }
    if (n == 0) {
      /* The file ended before `length`: it was cut short under us. */
      job->error = EIO;
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) job->error = errno;
    return;
  }
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  return queue_job(env, info, 4, send_run, "porthole.sendfile", "send(outFd, inFd, offset, length, callback)");
}

/* ---- startWriteback --------------------------------------------------------------------------- */

/* arg: fd, offset, length. */
static void writeback_run(Job *job) {
  if (sync_file_range((int)job->arg[0], (off64_t)job->arg[1], (off64_t)job->arg[2], SYNC_FILE_RANGE_WRITE) != 0) job->error = errno;
}

static napi_value start_writeback(napi_env env, napi_callback_info info) {
  return queue_job(env, info, 3, writeback_run, "porthole.writeback", "startWriteback(fd, offset, length, callback)");
}

/* ---- waitWritable --------------------------------------------------------------------------- */

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int done;          /* fired or cancelled: the callback will not be called (again) */
  int closed;        /* libuv has closed the handle */
  int external_gone; /* JavaScript has collected the handle it was given */
} Wait;

/* The struct lives until both libuv and JavaScript are done with it. */
static void wait_release(Wait *wait) {
  if (wait->closed && wait->external_gone) free(wait);
}

static void wait_closed(uv_handle_t *handle) {
  Wait *wait = handle->data;
  napi_delete_reference(wait->env, wait->callback);
  napi_async_destroy(wait->env, wait->context);
  wait->closed = 1;
  wait_release(wait);
}

/* Stops watching (at most once). */
static void wait_finish(Wait *wait) {
  if (wait->done) return;
  wait->done = 1;
  uv_poll_stop(&wait->poll);
  uv_close((uv_handle_t *)&wait->poll, wait_closed);
}

static void wait_event(uv_poll_t *poll, int status, int events) {
  (void)events;
  Wait *wait = poll->data;
  if (wait->done) return;
  napi_env env = wait->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback;
  napi_get_reference_value(env, wait->callback, &callback);
  napi_async_context context = wait->context;
  wait->done = 1;
  uv_poll_stop(&wait->poll);
  /* A hang-up or socket error shows as writable too; the next send then reports it. */
  call_back(env, callback, context, status < 0 ? -status : 0, 0, 0);
  uv_close((uv_handle_t *)&wait->poll, wait_closed);
  napi_close_handle_scope(env, scope);
}

static void wait_external_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Wait *wait = data;
  wait->external_gone = 1;
  wait_release(wait);
}

static napi_value wait_writable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int ok = argc == 2;
  napi_valuetype type = napi_undefined;
  if (ok) napi_typeof(env, argv[1], &type);
  int fd = ok ? (int)int64_arg(env, argv[0], &ok) : -1;
  if (!ok || type != napi_function || fd < 0) {
    napi_throw_type_error(env, NULL, "waitWritable(fd, callback)");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  Wait *wait = calloc(1, sizeof *wait);
  if (!wait) {
    napi_throw_error(env, NULL, "porthole kernel-io: out of memory");
    return NULL;
  }
  wait->env = env;
  int rc = uv_poll_init(loop, &wait->poll, fd);
  if (rc != 0) {
    free(wait);
    napi_throw_error(env, uv_err_name(rc), "porthole kernel-io: cannot watch the socket");
    return NULL;
  }
  wait->poll.data = wait;
  napi_value name, handle;
  napi_async_init(env, NULL, (napi_create_string_utf8(env, "porthole.waitWritable", NAPI_AUTO_LENGTH, &name), name),
                  &wait->context);
  napi_create_reference(env, argv[1], 1, &wait->callback);
  if (napi_create_external(env, wait, wait_external_finalize, NULL, &handle) != napi_ok) {
    wait->external_gone = 1;
    wait_finish(wait);
    napi_throw_error(env, NULL, "porthole kernel-io: cannot make a handle");
    return NULL;
  }
  rc = uv_poll_start(&wait->poll, UV_WRITABLE | UV_DISCONNECT, wait_event);
  if (rc != 0) {
    wait_finish(wait);
    napi_throw_error(env, uv_err_name(rc), "porthole kernel-io: cannot watch the socket");
    return NULL;
  }
  return handle;
}

/* Stops a wait that has not fired; its callback is then never called. Safe to call twice. */
static napi_value cancel_wait(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  if (argc != 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "cancelWait(handle)");
    return NULL;
  }
  wait_finish((Wait *)data);
  return NULL;
}

/* ---- dup ---------------------------------------------------------------------------------- */

static napi_value dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int ok = argc == 1;
  int fd = ok ? (int)int64_arg(env, argv[0], &ok) : -1;
  if (!ok || fd < 0) {
    napi_throw_type_error(env, NULL, "dup(fd)");
    return NULL;
  }
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    napi_throw_error(env, uv_err_name(-errno), "porthole kernel-io: dup failed");
    return NULL;
  }
  napi_value out;
  CHECK(napi_create_int32(env, copy, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"send", NULL, send_file, NULL, NULL, NULL, napi_default, NULL},
      {"waitWritable", NULL, wait_writable, NULL, NULL, NULL, napi_default, NULL},
      {"cancelWait", NULL, cancel_wait, NULL, NULL, NULL, napi_default, NULL},
      {"dup", NULL, dup_fd, NULL, NULL, NULL, napi_default, NULL},
      {"startWriteback", NULL, start_writeback, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
