/*
 * log.h — fmasd's log lines on stderr: "TIMESTAMP fmasd: message".
 */
#ifndef FMAS_SERVER_LOG_H
#define FMAS_SERVER_LOG_H

void fm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
