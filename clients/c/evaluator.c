/*
 * evaluator.c — fork/exec, pipes and poll() for evaluator commands (see
 * evaluator.h).
 *
 * Each attempt runs as the leader of its own process group (setpgid in the
 * child and in the parent, so that neither order of scheduling leaves a
 * window), with stdin, stdout and stderr on non-blocking pipes. A deadline,
 * or the leader's exit, kills the whole group: a launcher (srun, a wrapper
 * script) cannot leave strays behind. Exits are noticed with
 * waitid(WNOWAIT), so the group is killed before the leader is reaped and
 * its pid cannot have been reused.
 *
 * When the command starts with srun (a --launcher 'srun ...'), each
 * attempt is a Slurm job of its own name, "fmas-PID-N" (--job-name is put
 * after the word srun), and an attempt killed before it ended (deadline,
 * or the runner freed) is first cancelled by that name with scancel: a
 * killed srun alone may leave its job step running on the node.
 */
#include "evaluator.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fmas_client.h"

/* After the leader is gone, how long pipes held open by strays may stay
 * open before they are closed anyway. */
#define DRAIN_GRACE_S 2.0

typedef struct ev_job {
    long tag;
    char *input;
    size_t input_len, input_off;
    pid_t pid;
    int fd_in, fd_out, fd_err; /* -1 once closed */
    fc_buf out, err;
    int out_too_big;
    double started, deadline, exited_at;
    int exited, timed_out, status;
    char job_name[64]; /* the Slurm job name of the attempt, or "" */
    char job_opt[96];  /* --job-name=job_name, a word of its argv */
} ev_job;

struct ev_runner {
    char **argv;
    int parallel;
    int maxfd; /* descriptors a child closes: 3 .. maxfd - 1 */
    double timeout_s;
    ev_job *running; /* parallel slots; pid 0 = free */
    size_t nrunning;
    ev_job *queue;   /* FIFO of attempts not started */
    size_t qhead, qlen, qcap;
    int slurm;       /* argv[0] is srun: name each job, scancel on kill */
};

/* Attempts started by every runner of this process, so that job names
 * stay unique across runners (one per phase of a search). */
static unsigned long attempts_started;

/* The last path component of a command word. */
static const char *base_name(const char *word)
{
    const char *slash = strrchr(word, '/');
    return slash ? slash + 1 : word;
}

int ev_runner_new(ev_runner **out, char *const *argv, int parallel, double timeout_s)
{
    *out = NULL;
    ev_runner *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    size_t n = 0;
    while (argv[n])
        n++;
    r->argv = calloc(n + 1, sizeof *r->argv);
    r->parallel = parallel < 1 ? 1 : parallel;
    r->running = calloc((size_t)r->parallel, sizeof *r->running);
    if (!r->argv || !r->running) {
        ev_runner_free(r);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!(r->argv[i] = strdup(argv[i]))) {
            ev_runner_free(r);
            return -1;
        }
    r->timeout_s = timeout_s;
    r->slurm = n > 0 && strcmp(base_name(argv[0]), "srun") == 0;
    long open_max = sysconf(_SC_OPEN_MAX);
    r->maxfd = open_max > 0 && open_max < 65536 ? (int)open_max : 65536;
    *out = r;
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void job_release(ev_job *j)
{
    close_fd(&j->fd_in);
    close_fd(&j->fd_out);
    close_fd(&j->fd_err);
    free(j->input);
    fc_buf_free(&j->out);
    fc_buf_free(&j->err);
    memset(j, 0, sizeof *j);
    j->fd_in = j->fd_out = j->fd_err = -1;
}

/* scancel --name=NAME for an attempt that is being killed, waited for up
 * to 10 s (it only asks slurmctld). Nothing when it is not a Slurm job. */
static void slurm_cancel(const ev_job *j, int maxfd)
{
    if (!j->job_name[0])
        return;
    char name_opt[80];
    snprintf(name_opt, sizeof name_opt, "--name=%s", j->job_name);
    char *argv[] = {"scancel", "--quiet", name_opt, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        for (int fd = 3; fd < maxfd; fd++)
            close(fd);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0)
        return;
    double until = fc_now() + 10.0;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (fc_now() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
}

void ev_runner_free(ev_runner *r)
{
    if (!r)
        return;
    for (int i = 0; r->running && i < r->parallel; i++) {
        ev_job *j = &r->running[i];
        if (j->pid > 0) {
            if (!j->exited)
                slurm_cancel(j, r->maxfd);
            kill(-j->pid, SIGKILL);
            kill(j->pid, SIGKILL);
            while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        job_release(j);
    }
    for (size_t i = 0; i < r->qlen; i++)
        free(r->queue[(r->qhead + i) % r->qcap].input);
    free(r->queue);
    free(r->running);
    for (size_t i = 0; r->argv && r->argv[i]; i++)
        free(r->argv[i]);
    free(r->argv);
    free(r);
}

int ev_submit(ev_runner *r, long tag, const char *input)
{
    if (r->qlen == r->qcap) {
        size_t cap = r->qcap ? 2 * r->qcap : 16;
        ev_job *q = calloc(cap, sizeof *q);
        if (!q)
            return -1;
        for (size_t i = 0; i < r->qlen; i++)
            q[i] = r->queue[(r->qhead + i) % r->qcap];
        free(r->queue);
        r->queue = q;
        r->qcap = cap;
        r->qhead = 0;
    }
    ev_job *j = &r->queue[(r->qhead + r->qlen) % r->qcap];
    memset(j, 0, sizeof *j);
    j->tag = tag;
    j->input_len = strlen(input);
    if (!(j->input = strdup(input)))
        return -1;
    r->qlen++;
    return 0;
}

size_t ev_busy(const ev_runner *r)
{
    return r->qlen + r->nrunning;
}

size_t ev_running(const ev_runner *r)
{
    return r->nrunning;
}

static int make_pipe(int fds[2])
{
    if (pipe(fds))
        return -1;
    for (int k = 0; k < 2; k++)
        fcntl(fds[k], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* In the child after fork(): only async-signal-safe calls. The pipe ends
 * are first moved above 2, so that none of them is clobbered by another's
 * dup2 (a parent started with fd 0, 1 or 2 closed gets pipes there). */
static void child_exec(char **argv, int in, int out, int err, int maxfd)
{
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    int fds[3] = {in, out, err};
    for (int k = 0; k < 3; k++)
        if ((fds[k] = fcntl(fds[k], F_DUPFD, 3)) < 0)
            _exit(126);
    for (int k = 0; k < 3; k++)
        if (dup2(fds[k], k) < 0)
            _exit(126);
    /* Nothing else of the parent's (its connection to fmasd, a library's
     * descriptor opened without O_CLOEXEC) reaches the evaluator. */
    for (int fd = 3; fd < maxfd; fd++)
        close(fd);
    execvp(argv[0], argv);
    int e = errno;
    const char *parts[] = {"cannot execute ", argv[0], ": ", strerror(e), "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (write(2, parts[i], strlen(parts[i])) < 0)
            break;
    _exit(127);
}

/* The argv of one attempt: the runner's, or for srun a copy with
 * --job-name=fmas-PID-N after the word srun (the strings are the
 * runner's but for j->job_name). NULL when out of memory. */
static char **attempt_argv(ev_runner *r, ev_job *j)
{
    attempts_started++;
    if (!r->slurm)
        return r->argv;
    size_t n = 0;
    while (r->argv[n])
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return NULL;
    snprintf(j->job_name, sizeof j->job_name, "fmas-%ld-%lu", (long)getpid(), attempts_started);
    snprintf(j->job_opt, sizeof j->job_opt, "--job-name=%s", j->job_name);
    argv[0] = r->argv[0];
    argv[1] = j->job_opt;
    for (size_t i = 1; i < n; i++)
        argv[i + 1] = r->argv[i];
    return argv;
}

/* Start job j (moved out of the queue) in a free slot. A failure to start
 * is reported like a failed attempt: it finishes at once. */
static void job_start(ev_runner *r, ev_job *j)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    j->fd_in = j->fd_out = j->fd_err = -1;
    j->started = fc_now();
    j->deadline = r->timeout_s > 0 ? j->started + r->timeout_s : 0;
    char **argv = attempt_argv(r, j);
    if (!argv || make_pipe(in) || make_pipe(out) || make_pipe(err))
        goto fail;
    pid_t pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0)
        child_exec(argv, in[0], out[1], err[1], r->maxfd);
    if (argv != r->argv)
        free(argv);
    argv = NULL;
    setpgid(pid, pid); /* also done by the child; EACCES after exec is fine */
    j->pid = pid;
    close(in[0]);
    close(out[1]);
    close(err[1]);
    j->fd_in = in[1];
    j->fd_out = out[0];
    j->fd_err = err[0];
    fcntl(j->fd_in, F_SETFL, O_NONBLOCK);
    fcntl(j->fd_out, F_SETFL, O_NONBLOCK);
    fcntl(j->fd_err, F_SETFL, O_NONBLOCK);
    if (j->input_len == 0)
        close_fd(&j->fd_in);
    r->nrunning++;
    return;
fail:
    fc_buf_printf(&j->err, "cannot start the evaluator: %s\n", strerror(errno));
    if (argv && argv != r->argv)
        free(argv);
    for (int k = 0; k < 2; k++) {
        if (in[k] >= 0)
            close(in[k]);
        if (out[k] >= 0)
            close(out[k]);
        if (err[k] >= 0)
            close(err[k]);
    }
    j->pid = -1; /* finished, never ran */
    j->exited = 1;
    j->status = 127 << 8;
    r->nrunning++;
}

static void start_queued(ev_runner *r)
{
    for (int i = 0; i < r->parallel && r->qlen; i++) {
        if (r->running[i].pid != 0)
            continue;
        r->running[i] = r->queue[r->qhead];
        r->qhead = (r->qhead + 1) % r->qcap;
        r->qlen--;
        job_start(r, &r->running[i]);
    }
}

/* Read what a pipe has; EOF closes it. stderr keeps its tail only. */
static void drain(ev_job *j, int *fd, fc_buf *b, int is_stdout)
{
    char chunk[8192];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n > 0) {
            if (is_stdout) {
                if (b->len + (size_t)n > EV_STDOUT_MAX)
                    j->out_too_big = 1;
                else
                    fc_buf_append(b, chunk, (size_t)n);
            } else {
                fc_buf_append(b, chunk, (size_t)n);
                if (b->len > 4 * EV_STDERR_TAIL) {
                    memmove(b->data, b->data + b->len - EV_STDERR_TAIL, EV_STDERR_TAIL);
                    b->len = EV_STDERR_TAIL;
                    b->data[b->len] = '\0';
                }
            }
            continue;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
            close_fd(fd);
        if (n < 0 && errno == EINTR)
            continue;
        return;
    }
}

static void feed(ev_job *j)
{
    while (j->fd_in >= 0 && j->input_off < j->input_len) {
        ssize_t n = write(j->fd_in, j->input + j->input_off, j->input_len - j->input_off);
        if (n > 0) {
            j->input_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            close_fd(&j->fd_in); /* EPIPE: it does not read its input */
        }
    }
    if (j->input_off >= j->input_len)
        close_fd(&j->fd_in);
}

/* Parse stdout: one JSON object, or else the last non-empty line. */
static json_t *parse_output(const fc_buf *out, char *why, size_t size)
{
    const char *s = out->data ? out->data : "";
    size_t len = out->len;
    json_t *v = fc_parse(s, len, why, size);
    if (v && json_is_object(v))
        return v;
    json_decref(v);
    size_t end = len;
    while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r' || s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    size_t begin = end;
    while (begin > 0 && s[begin - 1] != '\n')
        begin--;
    if (begin > 0 && end > begin) {
        char why2[256];
        v = fc_parse(s + begin, end - begin, why2, sizeof why2);
        if (v && json_is_object(v))
            return v;
        json_decref(v);
    }
    if (len == 0)
        snprintf(why, size, "nothing on stdout");
    else if (!why[0] || strstr(why, "end of file expected"))
        snprintf(why, size, "stdout is not one JSON object");
    return NULL;
}

static void finish(ev_runner *r, ev_job *j, void (*done)(const ev_result *, void *), void *arg)
{
    char error[512] = "";
    json_t *output = NULL;
    if (j->timed_out) {
        snprintf(error, sizeof error, "timed out after %g s (process group killed)", r->timeout_s);
    } else if (WIFSIGNALED(j->status)) {
        snprintf(error, sizeof error, "killed by signal %d", WTERMSIG(j->status));
    } else if (WIFEXITED(j->status) && WEXITSTATUS(j->status) != 0) {
        snprintf(error, sizeof error, "exit status %d", WEXITSTATUS(j->status));
    } else if (j->out_too_big) {
        snprintf(error, sizeof error, "malformed output: more than %u bytes on stdout", EV_STDOUT_MAX);
    } else {
        char why[256] = "";
        output = parse_output(&j->out, why, sizeof why);
        if (!output) {
            char text[120];
            size_t n = 0;
            for (size_t i = 0; j->out.data && i < j->out.len && n + 4 < sizeof text; i++) {
                unsigned char ch = (unsigned char)j->out.data[i];
                text[n++] = ch < 0x20 ? ' ' : (char)ch;
            }
            text[n] = '\0';
            snprintf(error, sizeof error, "malformed output: %s%s%.120s", why, n ? ": " : "", text);
        }
    }
    const char *tail = j->err.data ? j->err.data : "";
    if (j->err.len > EV_STDERR_TAIL)
        tail += j->err.len - EV_STDERR_TAIL;
    ev_result res = {j->tag, output != NULL, output, error, tail, fc_now() - j->started};
    done(&res, arg);
    json_decref(output);
    job_release(j);
    r->nrunning--;
}

int ev_poll(ev_runner *r, int wait_ms, void (*done)(const ev_result *, void *), void *arg)
{
    start_queued(r);
    double until = wait_ms < 0 ? 0 : fc_now() + wait_ms / 1000.0;
    int finished = 0;
    struct pollfd *fds = calloc((size_t)r->parallel * 3 + 1, sizeof *fds);
    ev_job **owner = calloc((size_t)r->parallel * 3 + 1, sizeof *owner);
    if (!fds || !owner) {
        free(fds);
        free(owner);
        return -1;
    }
    for (;;) {
        double now = fc_now();
        /* Exits, deadlines, and jobs that are done. */
        for (int i = 0; i < r->parallel; i++) {
            ev_job *j = &r->running[i];
            if (j->pid == 0)
                continue;
            if (j->pid > 0 && !j->exited) {
                siginfo_t si;
                memset(&si, 0, sizeof si);
                if (waitid(P_PID, (id_t)j->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == j->pid) {
                    kill(-j->pid, SIGKILL); /* strays of the group, before the leader is reaped */
                    while (waitpid(j->pid, &j->status, 0) < 0 && errno == EINTR)
                        ;
                    j->exited = 1;
                    j->exited_at = now;
                    close_fd(&j->fd_in);
                } else if (j->deadline > 0 && now >= j->deadline) {
                    j->timed_out = 1;
                    j->deadline = 0;
                    slurm_cancel(j, r->maxfd);
                    kill(-j->pid, SIGKILL);
                    kill(j->pid, SIGKILL);
                }
            }
            if (j->exited) {
                if (j->fd_out >= 0)
                    drain(j, &j->fd_out, &j->out, 1);
                if (j->fd_err >= 0)
                    drain(j, &j->fd_err, &j->err, 0);
                if ((j->fd_out < 0 && j->fd_err < 0) || now - j->exited_at > DRAIN_GRACE_S) {
                    finish(r, j, done, arg);
                    finished++;
                }
            }
        }
        start_queued(r);
        if (finished && wait_ms < 0)
            break;
        now = fc_now();
        if (wait_ms >= 0 && now >= until)
            break;
        if (r->nrunning == 0)
            break;
        /* Wait for pipes; exits are polled every 50 ms at most. */
        nfds_t nfds = 0;
        double next = wait_ms >= 0 ? until : now + 0.05;
        if (next > now + 0.05)
            next = now + 0.05;
        for (int i = 0; i < r->parallel; i++) {
            ev_job *j = &r->running[i];
            if (j->pid == 0)
                continue;
            if (j->deadline > 0 && j->deadline < next)
                next = j->deadline;
            if (j->fd_in >= 0) {
                fds[nfds] = (struct pollfd){j->fd_in, POLLOUT, 0};
                owner[nfds++] = j;
            }
            if (j->fd_out >= 0) {
                fds[nfds] = (struct pollfd){j->fd_out, POLLIN, 0};
                owner[nfds++] = j;
            }
            if (j->fd_err >= 0) {
                fds[nfds] = (struct pollfd){j->fd_err, POLLIN, 0};
                owner[nfds++] = j;
            }
        }
        int timeout = (int)((next - now) * 1000.0) + 1;
        if (timeout < 0)
            timeout = 0;
        int n = poll(fds, nfds, timeout);
        if (n < 0) {
            if (errno == EINTR) {
                free(fds);
                free(owner);
                return finished ? finished : -1;
            }
            break;
        }
        for (nfds_t k = 0; k < nfds; k++) {
            ev_job *j = owner[k];
            if (!fds[k].revents)
                continue;
            if (fds[k].fd == j->fd_in)
                feed(j);
            else if (fds[k].fd == j->fd_out)
                drain(j, &j->fd_out, &j->out, 1);
            else if (fds[k].fd == j->fd_err)
                drain(j, &j->fd_err, &j->err, 0);
        }
    }
    free(fds);
    free(owner);
    return finished;
}
