/*
 * journal.h — an append-only file of JSON lines, each record written whole,
 * flushed and fsynced before the call returns.
 *
 * Opening reads the records already there. A last line without its newline
 * (the process died while writing it) is cut off; any other line that does
 * not parse is an error naming it. The file is locked (fcntl write lock) for
 * as long as it is open, so two searches cannot write one journal; the lock
 * goes with the process, also on kill -9.
 */
#ifndef FMAS_JOURNAL_H
#define FMAS_JOURNAL_H

#include <stddef.h>

#include <jansson.h>

typedef struct jr_journal {
    int fd;
    char *path;
} jr_journal;

/* Open (create) path; *records receives a new JSON array of the records
 * found, oldest first. Returns 0, or -1 with a sentence in err. */
int jr_open(jr_journal *j, const char *path, json_t **records, char *err, size_t errsize);

/* Append one record (borrowed) as one line; fsync before returning.
 * Returns 0, or -1 with a sentence in err. */
int jr_append(jr_journal *j, json_t *record, char *err, size_t errsize);

void jr_close(jr_journal *j);

#endif
