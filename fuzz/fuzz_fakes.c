/*
 * fuzz_fakes.c — what the harnesses link instead of libmicrohttpd and the
 * generated dashboard page (see fuzz_fakes.h).
 */
#include "fuzz_fakes.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "web_page.h"

/* A small page in place of the one web/embed.cmake generates for fmasd. */
static const unsigned char page[] = "<!doctype html><title>fmas</title>";
const fm_web_page fm_dashboard_page = {page, sizeof page - 1, "\"fz\"", "text/html; charset=utf-8"};

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    const fz_conn *c = (const fz_conn *)(void *)connection;
    if (!c || !key)
        return NULL;
    if (kind == MHD_HEADER_KIND)
        return strcasecmp(key, "Accept") == 0            ? c->accept
               : strcasecmp(key, "If-None-Match") == 0   ? c->accept
               : strcasecmp(key, "Idempotency-Key") == 0 ? c->accept
                                                         : NULL;
    if (kind != MHD_GET_ARGUMENT_KIND)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return NULL;
}

void fz_conn_query(fz_conn *c, const char *q, size_t len)
{
    c->n = 0;
    c->query = NULL;
    if (!q)
        return;
    c->query = malloc(len + 1);
    if (!c->query)
        abort();
    memcpy(c->query, q, len);
    c->query[len] = '\0';
    char *save = NULL;
    for (char *p = strtok_r(c->query, "&", &save); p && c->n < FZ_MAX_QUERY;
         p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        if (eq)
            *eq++ = '\0';
        c->keys[c->n] = p;
        c->values[c->n++] = eq;
    }
}
