/*
 * evaluator.h — runs evaluator commands: up to N at once, each without a
 * shell from an argv, in its own process group, with one JSON object on
 * stdin and one expected on stdout, a deadline, and the tail of its stderr
 * kept for the record.
 *
 * The runner only runs: it does not retry. Its caller submits one attempt
 * at a time and decides what a failure means.
 *
 * Ownership: the runner copies the argv and the inputs it is given; the
 * ev_result handed to the callback is valid during the call only (take
 * result->output with json_incref to keep it).
 */
#ifndef FMAS_EVALUATOR_H
#define FMAS_EVALUATOR_H

#include <stddef.h>

#include <jansson.h>

typedef struct ev_runner ev_runner;

typedef struct ev_result {
    long tag;            /* the caller's tag of the attempt */
    int ok;              /* exit status 0, in time, stdout one JSON object */
    json_t *output;      /* that object when ok (borrowed) */
    const char *error;   /* why not ok: "exit status 2", "timed out after 5 s", ... */
    const char *stderr_tail; /* the last EV_STDERR_TAIL bytes of stderr */
    double seconds;      /* wall time of the attempt */
} ev_result;

#define EV_STDERR_TAIL 2048
#define EV_STDOUT_MAX (8u << 20)

/* argv: NULL-terminated (launcher words, then the evaluator's); parallel
 * >= 1; timeout_s <= 0 means no deadline. Returns 0 or -1 (no memory). */
int ev_runner_new(ev_runner **out, char *const *argv, int parallel, double timeout_s);

/* Kills (SIGKILL to the process group) and reaps whatever still runs. */
void ev_runner_free(ev_runner *r);

/* Queue one attempt; it starts as soon as a slot is free. input is the
 * whole stdin text. Returns 0 or -1 (no memory). */
int ev_submit(ev_runner *r, long tag, const char *input);

/* Attempts queued or running. */
size_t ev_busy(const ev_runner *r);
size_t ev_running(const ev_runner *r);

/*
 * Start queued attempts, wait for output, deadlines and exits for at most
 * wait_ms (-1: until one attempt finishes), and call done() once per
 * finished attempt. Returns the number finished, or -1 when interrupted by
 * a signal (errno EINTR) so that the caller may look at its flags.
 */
int ev_poll(ev_runner *r, int wait_ms, void (*done)(const ev_result *res, void *arg), void *arg);

#endif
