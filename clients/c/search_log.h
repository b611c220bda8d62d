/*
 * search_log.h — what fmas-search writes on stderr: one-line messages
 * ("fmas-search: ...") and, on a terminal, one progress line that each
 * message first clears, so that the two never mix.
 *
 * The lowest part of fmas-search: it knows nothing of the search. It keeps
 * the state of the terminal line (stderr is one per process).
 */
#ifndef FMAS_SEARCH_LOG_H
#define FMAS_SEARCH_LOG_H

#define PROG "fmas-search"

/* A message on stderr: PROG ": ", the text, a newline; a progress line on
 * the screen is cleared first (and drawn again by the next
 * search_progress_show). */
void search_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Look whether stderr is a terminal; until then no progress line is drawn. */
void search_log_init(void);
/* 1 when the progress line is drawn at all (stderr is a terminal). */
int search_progress_on(void);
/* Replace the progress line by line (no newline in it); now is the time
 * of the drawing (fc_now), for search_progress_age. */
void search_progress_show(const char *line, double now);
/* Seconds from the last drawing to now; a large number when no progress
 * line is on the screen. */
double search_progress_age(double now);
/* Clear the progress line, if one is drawn, before other output. */
void search_progress_clear(void);

#endif
