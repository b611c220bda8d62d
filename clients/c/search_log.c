/*
 * search_log.c — stderr of fmas-search: messages and the progress line
 * (see search_log.h).
 */
#include "search_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int g_tty;          /* stderr is a terminal */
static double g_drawn_at;  /* when the progress line was drawn; 0: none shown */

void search_log_init(void)
{
    g_tty = isatty(2);
}

int search_progress_on(void)
{
    return g_tty;
}

void search_progress_clear(void)
{
    if (g_tty && g_drawn_at > 0)
        fputs("\r\033[K", stderr);
}

void search_say(const char *fmt, ...)
{
    search_progress_clear();
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_drawn_at = 0;
}

void search_progress_show(const char *line, double now)
{
    if (!g_tty)
        return;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    g_drawn_at = now;
}

double search_progress_age(double now)
{
    return now - g_drawn_at;
}
