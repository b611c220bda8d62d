/*
 * web_page.h — the dashboard page, embedded in fmasd at build time.
 *
 * web/embed.cmake turns web/dist/index.html (built from web/ with
 * `npm ci && npm run build`) into a C file defining fm_dashboard_page; when
 * web/dist was not built, the page is empty (len 0) and GET / answers 503
 * saying how to build it. The bytes are static and read-only for the life of
 * the process.
 */
#ifndef FMAS_SERVER_WEB_PAGE_H
#define FMAS_SERVER_WEB_PAGE_H

#include <stddef.h>

typedef struct fm_web_page {
    const unsigned char *data; /* the document, len bytes; NULL when not built */
    size_t len;
    const char *etag;          /* a strong ETag (quoted hash of the bytes), or NULL */
    const char *content_type;
} fm_web_page;

extern const fm_web_page fm_dashboard_page;

#endif
