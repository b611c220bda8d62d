/*
 * h_dashboard.c — GET / and HEAD /: the dashboard, one self-contained HTML
 * document (script and style inline) built from web/ and embedded at build
 * time (h_dashboard.h). It reads everything it shows from the public REST
 * API of the same origin, so this handler only hands out the bytes.
 *
 * Caching: a strong ETag of the bytes with "Cache-Control: no-cache", so a
 * browser revalidates and gets 304 until fmasd is rebuilt with other bytes.
 */
#include "h_dashboard.h"
#include "web_page.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Does an If-None-Match value ("*", or a list of entity tags) match etag?
 * Weak comparison (RFC 9110 13.1.2): a W/ prefix is ignored. */
static int etag_matches(const char *header, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

void h_dashboard(fm_request *rq, fm_response *rs)
{
    const fm_web_page *page = &fm_dashboard_page;
    if (!page->data || page->len == 0) {
        fm_problem(rs, 503, "unavailable", NULL,
                   "this fmasd was built without the dashboard: run `npm ci && npm run build` in web/ "
                   "(Node.js 18 or later), then build fmasd again");
        return;
    }
    fm_add_header(rs, "ETag", "%s", page->etag);
    fm_add_header(rs, "Cache-Control", "%s", "no-cache");
    fm_add_header(rs, "X-Content-Type-Options", "%s", "nosniff");
    const char *inm = fm_header(rq, "If-None-Match");
    if (inm && etag_matches(inm, page->etag)) {
        rs->status = 304;
        return;
    }
    char *copy = malloc(page->len);
    if (!copy) {
        fm_problem(rs, 503, "unavailable", NULL, "out of memory");
        return;
    }
    memcpy(copy, page->data, page->len);
    fm_respond_text(rs, 200, page->content_type, copy, page->len);
}
