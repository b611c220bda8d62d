/*
 * bundled.c — the demo tables shipped with fmasd (lut/data), loaded into
 * a data directory once (see bundled.h).
 */
#include "bundled.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"

/* Read a whole file into a malloc'd NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Load one bundled device: NAME.device.json (its fields) + NAME.csv. */
static int load_bundled_device(fm_server *srv, const char *dir, const char *name)
{
    char path[8192];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/%s.device.json", dir, name);
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        fm_log("bundled table %s: %s (line %d)", path, jerr.text, jerr.line);
        return -1;
    }
    lut_device dev;
    lut_error err = {.row = -1};
    int rc = fm_device_from_json(doc, name, &dev, &err);
    json_decref(doc);
    if (rc) {
        fm_log("bundled table %s: %s: %s", path, err.field, err.reason);
        return -1;
    }
    rc = lut_device_put(srv->store, &dev, NULL);
    if (rc) {
        fm_log("bundled table %s: %s", path, lut_strerror(rc));
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    size_t len = 0;
    char *csv = read_file(path, &len);
    if (!csv)
        return 0; /* a device without rows is allowed */
    fm_request rq = {.srv = srv, .body = csv, .body_len = len, .content_type = "text/csv"};
    fm_response rs = {0};
    lut_entry *rows = NULL;
    size_t n = 0;
    if (fm_parse_batch(&rq, &rs, &rows, &n)) {
        char *text = rs.json ? json_dumps(rs.json, JSON_COMPACT) : NULL;
        fm_log("bundled table %s: %s", path, text ? text : "does not parse");
        free(text);
        json_decref(rs.json);
        free(csv);
        return -1;
    }
    free(csv);
    rc = lut_store_put_batch(srv->store, name, rows, n, LUT_MODE_REPLACE, &dev, &err);
    free(rows);
    if (rc) {
        fm_log("bundled table %s: row %ld: %s", path, err.row, rc == LUT_EINVAL ? err.reason : lut_strerror(rc));
        return -1;
    }
    fm_log("loaded bundled table %s: %llu entries, version %llu", name,
             (unsigned long long)dev.entries, (unsigned long long)dev.lut_version);
    return 0;
}

int fm_bundled_load(fm_server *srv)
{
    const char *dir = srv->cfg.tables_dir;
    if (!dir[0])
        return 0;
    char marker[8192];
    snprintf(marker, sizeof marker, "%s/.bundled-loaded", srv->cfg.data_dir);
    if (access(marker, F_OK) == 0)
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        fm_log("no bundled tables at %s (%s)", dir, strerror(errno));
        return 0;
    }
    int failed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *suffix = ".device.json";
        size_t len = strlen(de->d_name), sl = strlen(suffix);
        if (len <= sl || strcmp(de->d_name + len - sl, suffix) != 0)
            continue;
        char name[LUT_NAME_MAX];
        if (len - sl >= sizeof name)
            continue;
        memcpy(name, de->d_name, len - sl);
        name[len - sl] = '\0';
        lut_device existing;
        if (lut_device_get(srv->store, name, &existing) == 0)
            continue; /* never overwrite a table the user already has */
        if (load_bundled_device(srv, dir, name))
            failed = 1;
    }
    closedir(d);
    if (failed)
        return -1;
    int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}
