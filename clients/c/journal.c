/*
 * journal.c — append-only JSON lines with fsync per record (see journal.h).
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmas_client.h"

/* fsync the directory holding path, so that a new file's name is durable. */
static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int jr_open(jr_journal *j, const char *path, json_t **records, char *err, size_t errsize)
{
    *records = NULL;
    j->fd = -1;
    j->path = NULL;
    struct stat st;
    int existed = stat(path, &st) == 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsize, "journal %s: %s", path, strerror(errno));
        return -1;
    }
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &lk) < 0) {
        snprintf(err, errsize, "journal %s is in use by another process (%s)", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!existed)
        sync_dir(path);
    fc_buf text = {0};
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errsize, "journal %s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (fc_buf_append(&text, chunk, (size_t)n)) {
            snprintf(err, errsize, "journal %s: out of memory", path);
            goto fail;
        }
    }
    json_t *arr = json_array();
    size_t off = 0, line = 0, good_end = 0;
    while (off < text.len) {
        const char *s = text.data + off;
        const char *nl = memchr(s, '\n', text.len - off);
        line++;
        if (!nl)
            break; /* torn last record: cut off below */
        size_t len = (size_t)(nl - s);
        if (len > 0) {
            char why[200];
            json_t *rec = fc_parse(s, len, why, sizeof why);
            if (!json_is_object(rec)) {
                json_decref(rec);
                json_decref(arr);
                snprintf(err, errsize, "journal %s: line %zu is not a JSON object (%s)", path, line,
                         rec ? "not an object" : why);
                goto fail;
            }
            json_array_append_new(arr, rec);
        }
        off += len + 1;
        good_end = off;
    }
    if (good_end < text.len && ftruncate(fd, (off_t)good_end) < 0) {
        json_decref(arr);
        snprintf(err, errsize, "journal %s: cannot cut off the torn last line: %s", path, strerror(errno));
        goto fail;
    }
    if (lseek(fd, 0, SEEK_END) < 0 || !(j->path = strdup(path))) {
        json_decref(arr);
        snprintf(err, errsize, "journal %s: %s", path, strerror(errno));
        goto fail;
    }
    fc_buf_free(&text);
    j->fd = fd;
    *records = arr;
    return 0;
fail:
    fc_buf_free(&text);
    close(fd);
    return -1;
}

int jr_append(jr_journal *j, json_t *record, char *err, size_t errsize)
{
    char *line = json_dumps(record, JSON_COMPACT);
    if (!line) {
        snprintf(err, errsize, "journal %s: cannot encode a record", j->path);
        return -1;
    }
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps gave len + 1 bytes: the NUL becomes the newline */
    size_t off = 0;
    while (off < len + 1) {
        ssize_t n = write(j->fd, line + off, len + 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errsize, "journal %s: %s", j->path, n < 0 ? strerror(errno) : "short write");
            free(line);
            return -1;
        }
        off += (size_t)n;
    }
    free(line);
    if (fsync(j->fd) < 0) {
        snprintf(err, errsize, "journal %s: fsync: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
}

void jr_close(jr_journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    j->fd = -1;
    j->path = NULL;
}
