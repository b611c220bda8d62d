/*
 * fmas_lut.c — fmas-lut: the profiler's side of fmasd. Uploads latency
 * tables (CSV, NDJSON or JSON, streamed from the file), lists devices,
 * exports a table, says what a space still needs profiled on a device,
 * imports GAP SDK performance logs, and estimates one genome.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "fmas_client.h"

#define PROG "fmas-lut"

static const char usage[] =
    "usage: fmas-lut [--server URL] COMMAND [options]\n"
    "\n"
    "  upload --device NAME [--mode replace|merge] FILE...\n"
    "        upload latency rows; the format (CSV, NDJSON or a JSON array) is detected\n"
    "        from the first bytes; each file is one batch, streamed; rejected rows are\n"
    "        reported as FILE:LINE\n"
    "  import --format gap8-perf --device NAME [--map MAP.csv] [--mode replace|merge] LOG\n"
    "        a GAP SDK performance log (the \"NAME: Cycles: N, Operations: N, ...\" lines)\n"
    "        with the map of what the layer names do not say (h, w, stride, pad, groups);\n"
    "        faults are reported as LOG:LINE or MAP:LINE, and nothing is stored\n"
    "  devices [--json]\n"
    "        every device with its unit, entries and table version\n"
    "  export --device NAME [--format csv|json] [--op OP]\n"
    "        the device's table on stdout, in a form upload takes back\n"
    "  coverage --space ID --device NAME [--format text|csv|json]\n"
    "        which layers of the space the device's table still lacks; csv gives\n"
    "        them as upload rows with latency_mean to fill in\n"
    "  estimate --space ID --device NAME [--device NAME...] --genome JSON [--json]\n"
    "        MACs, params and latency of one genome ([indices] or {gene: value})\n"
    "\n"
    "  --server URL          fmasd (default $FMAS_SERVER or http://127.0.0.1:8080)\n"
    "  --token-file FILE     send the bearer token in FILE (default $FMAS_TOKEN_FILE,\n"
    "                        else the token in $FMAS_TOKEN; none: no token)\n"
    "  --server-retries N    retries of a failed request (default 8, backoff to 8 s)\n"
    "  --server-timeout S    seconds without a byte before a request fails (default 300)\n";

/* Long-only options take values above any character. */
enum { O_SERVER = 256, O_DEVICE, O_MODE, O_FORMAT, O_OP, O_SPACE, O_GENOME, O_JSON, O_RETRIES, O_TIMEOUT, O_TOKEN_FILE, O_MAP };

static const struct option options[] = {
    {"server", required_argument, NULL, O_SERVER}, {"device", required_argument, NULL, O_DEVICE},
    {"mode", required_argument, NULL, O_MODE}, {"format", required_argument, NULL, O_FORMAT},
    {"op", required_argument, NULL, O_OP}, {"space", required_argument, NULL, O_SPACE},
    {"genome", required_argument, NULL, O_GENOME}, {"json", no_argument, NULL, O_JSON},
    {"server-retries", required_argument, NULL, O_RETRIES}, {"server-timeout", required_argument, NULL, O_TIMEOUT},
    {"token-file", required_argument, NULL, O_TOKEN_FILE}, {"map", required_argument, NULL, O_MAP},
    {"help", no_argument, NULL, 'h'}, {"h", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

#define MAX_DEVICES 16

typedef struct args {
    const char *server, *command, *mode, *format, *op, *space, *genome, *token_file, *map;
    const char *devices[MAX_DEVICES];
    int ndevices, json;
    char **files;
    int nfiles;
} args;

static void fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(fmas-lut --help for the commands)\n", stderr);
    va_end(ap);
    exit(2);
}

static void on_notice(const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, PROG ": %s\n", msg);
}

static int report(fc_client *c)
{
    fprintf(stderr, PROG ": %s\n", fc_error(c));
    return 1;
}

/* ------------------------------------------------------------- upload */

typedef enum { FMT_CSV, FMT_NDJSON, FMT_JSON } upload_format;

static const char *format_name(upload_format f)
{
    return f == FMT_JSON ? "json" : f == FMT_NDJSON ? "ndjson" : "csv";
}

/* Print an upload's answer ("FILE: N <what> accepted (FORMAT, MODE); ...")
 * and take it; 0, or report()'s code when it lacks a field. */
static int print_accepted(fc_client *c, json_t *answer, const char *file, const char *what, const char *format,
                          const args *a)
{
    json_int_t accepted, entries, version;
    const char *hash = NULL;
    if (json_unpack(answer, "{s:I, s:I, s:I, s:s}", "accepted", &accepted, "entries", &entries, "lut_version",
                    &version, "lut_hash", &hash)) {
        fc_fail(c, FC_EPROTO, "the answer lacks accepted, entries, lut_version or lut_hash");
        json_decref(answer);
        return report(c);
    }
    printf("%s: %" JSON_INTEGER_FORMAT " %s accepted (%s, %s); %s has %" JSON_INTEGER_FORMAT
           " entries, lut_version %" JSON_INTEGER_FORMAT ", lut_hash %s\n",
           file, accepted, what, format, a->mode, a->devices[0], entries, version, hash);
    json_decref(answer);
    return 0;
}

static const char *format_type(upload_format f)
{
    return f == FMT_JSON ? "application/json" : f == FMT_NDJSON ? "application/x-ndjson" : "text/csv";
}

/* The format from the first bytes: after a UTF-8 BOM and white space, '['
 * is a JSON array, '{' NDJSON, anything else CSV. -1: nothing there. */
static int detect_format(FILE *f)
{
    unsigned char head[4096];
    size_t n = fread(head, 1, sizeof head, f);
    size_t i = n >= 3 && head[0] == 0xef && head[1] == 0xbb && head[2] == 0xbf ? 3 : 0;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    if (i == n)
        return -1;
    return head[i] == '[' ? FMT_JSON : head[i] == '{' ? FMT_NDJSON : FMT_CSV;
}

/* Lines where the elements of a top-level JSON array start, by a light
 * scan (strings and nesting, no validation): line_of[row] for rows
 * 0..max_row; rows not found stay 0. */
static void json_row_lines(FILE *f, long max_row, long *line_of)
{
    long line = 1, row = 0;
    int depth = 0, in_string = 0, escape = 0, expecting = 0, ch;
    rewind(f);
    while ((ch = getc(f)) != EOF && row <= max_row) {
        if (ch == '\n')
            line++;
        if (in_string) {
            if (escape)
                escape = 0;
            else if (ch == '\\')
                escape = 1;
            else if (ch == '"')
                in_string = 0;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        if (depth == 1 && expecting && ch != ']') {
            line_of[row++] = line;
            expecting = 0;
        }
        if (ch == '"') {
            in_string = 1;
        } else if (ch == '[' || ch == '{') {
            depth++;
            if (depth == 1)
                expecting = 1;
        } else if (ch == ']' || ch == '}') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            expecting = 1;
        }
    }
}

/* Report a rejected upload: each error with the file's line when known. */
static void report_upload_errors(fc_client *c, const char *file, FILE *f, upload_format fmt)
{
    json_t *problem = fc_problem(c);
    json_t *errors = json_object_get(problem, "errors");
    long max_row = -1;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        json_t *row = json_object_get(e, "row");
        if (json_is_integer(row) && json_integer_value(row) > max_row)
            max_row = (long)json_integer_value(row);
    }
    long *line_of = NULL;
    if (fmt == FMT_JSON && max_row >= 0 && max_row < 100000000 && (line_of = calloc((size_t)max_row + 1, sizeof *line_of)))
        json_row_lines(f, max_row, line_of);
    int listed = 0;
    json_array_foreach(errors, i, e) {
        json_t *row = json_object_get(e, "row"), *line = json_object_get(e, "line");
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *pointer = json_string_value(json_object_get(e, "pointer"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        long ln = json_is_integer(line) ? (long)json_integer_value(line) : 0;
        if (!ln && line_of && json_is_integer(row) && json_integer_value(row) >= 0)
            ln = line_of[json_integer_value(row)];
        if (!json_is_integer(row) && !ln)
            continue;
        fprintf(stderr, "%s:", file);
        if (ln)
            fprintf(stderr, "%ld:", ln);
        if (json_is_integer(row))
            fprintf(stderr, " row %" JSON_INTEGER_FORMAT ":", json_integer_value(row));
        if (field)
            fprintf(stderr, " %s:", field);
        else if (pointer && pointer[0])
            fprintf(stderr, " %s:", pointer);
        fprintf(stderr, " %s\n", reason ? reason : "rejected");
        listed++;
    }
    free(line_of);
    if (!listed || !json_is_object(problem))
        fprintf(stderr, "%s: %s\n", file, fc_error(c));
    else
        fprintf(stderr, "%s: rejected, nothing stored (%s)\n", file,
                json_string_value(json_object_get(problem, "detail")) ? json_string_value(json_object_get(problem, "detail"))
                                                                      : "see above");
}

static int upload_one(fc_client *c, const args *a, const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", file, strerror(errno));
        return 1;
    }
    struct stat st;
    int fmt = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? detect_format(f) : -2;
    if (fmt < 0) {
        fprintf(stderr, "%s: %s\n", file, fmt == -1 ? "empty: no rows to upload" : "not a regular file");
        fclose(f);
        return 1;
    }
    rewind(f);
    char path[256];
    snprintf(path, sizeof path, "/v1/devices/%s/lut?mode=%s", a->devices[0], a->mode);
    json_t *answer = NULL;
    int once = !strcmp(a->mode, "merge") ? FC_ONCE : FC_IDEMPOTENT;
    int rc = fc_upload(c, "POST", path, format_type((upload_format)fmt), f, (long long)st.st_size, once, &answer);
    if (rc == FC_EHTTP && fc_status(c) == 422) {
        report_upload_errors(c, file, f, (upload_format)fmt);
        fclose(f);
        return 1;
    }
    fclose(f);
    if (rc) {
        fprintf(stderr, "%s: %s\n", file, fc_error(c));
        return 1;
    }
    return print_accepted(c, answer, file, "rows", format_name((upload_format)fmt), a);
}

static int cmd_upload(fc_client *c, const args *a)
{
    if (a->ndevices != 1 || a->nfiles == 0)
        fail_usage("upload needs --device NAME and at least one FILE");
    int bad = 0;
    for (int i = 0; i < a->nfiles; i++)
        bad |= upload_one(c, a, a->files[i]);
    return bad;
}

/* ------------------------------------------------------------- import */

/* A whole text file as a JSON string; NULL (reported) if unreadable or
 * not UTF-8. */
static json_t *file_string(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    fc_buf b = {0};
    char chunk[65536];
    size_t n;
    int bad = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        bad |= fc_buf_append(&b, chunk, n) != 0;
    bad |= ferror(f);
    fclose(f);
    json_t *s = bad ? NULL : json_stringn(b.data ? b.data : "", b.len);
    fc_buf_free(&b);
    if (!s)
        fprintf(stderr, "%s: %s\n", path, bad ? "cannot be read" : "not UTF-8 text");
    return s;
}

/* The faults of a rejected log: LOG:LINE or MAP:LINE, field, reason. */
static void report_import_errors(fc_client *c, const char *log, const char *map)
{
    json_t *problem = fc_problem(c), *e;
    size_t i;
    int listed = 0;
    json_array_foreach(json_object_get(problem, "errors"), i, e) {
        const char *pointer = json_string_value(json_object_get(e, "pointer"));
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        json_t *line = json_object_get(e, "line");
        const char *file = pointer && !strcmp(pointer, "/map") && map ? map : log;
        fprintf(stderr, "%s:", file);
        if (json_is_integer(line))
            fprintf(stderr, "%" JSON_INTEGER_FORMAT ":", json_integer_value(line));
        if (field)
            fprintf(stderr, " %s:", field);
        fprintf(stderr, " %s\n", reason ? reason : "rejected");
        listed++;
    }
    const char *detail = json_string_value(json_object_get(problem, "detail"));
    fprintf(stderr, "%s: rejected, nothing stored (%s)\n", log, listed && detail ? detail : fc_error(c));
}

static int cmd_import(fc_client *c, const args *a)
{
    if (!a->format || strcmp(a->format, "gap8-perf"))
        fail_usage("import needs --format gap8-perf");
    if (a->ndevices != 1 || a->nfiles != 1)
        fail_usage("import needs --device NAME and one LOG file");
    json_t *log = file_string(a->files[0]), *map = a->map ? file_string(a->map) : NULL;
    if (!log || (a->map && !map)) {
        json_decref(log);
        json_decref(map);
        return 1;
    }
    json_t *body = json_pack("{s:s, s:o}", "format", "gap8-perf", "log", log);
    if (map)
        json_object_set_new(body, "map", map);
    char path[256];
    snprintf(path, sizeof path, "/v1/devices/%s/lut?mode=%s", a->devices[0], a->mode);
    json_t *answer = NULL;
    int rc = fc_json(c, "POST", path, body, &answer);
    json_decref(body);
    if (rc == FC_EHTTP && fc_status(c) == 422) {
        report_import_errors(c, a->files[0], a->map);
        return 1;
    }
    if (rc)
        return report(c);
    return print_accepted(c, answer, a->files[0], "layers", "gap8-perf", a);
}

/* ------------------------------------------------------------ devices */

static int cmd_devices(fc_client *c, const args *a)
{
    json_t *answer = NULL;
    if (fc_json(c, "GET", "/v1/devices", NULL, &answer))
        return report(c);
    json_t *devices = json_object_get(answer, "devices");
    if (!json_is_array(devices)) {
        fc_fail(c, FC_EPROTO, "the answer has no \"devices\" array");
        json_decref(answer);
        return report(c);
    }
    if (a->json) {
        json_dumpf(answer, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(answer);
        return 0;
    }
    printf("%-24s %-7s %9s %9s %8s  %-8s %s\n", "name", "unit", "clock_mhz", "entries", "version", "measured", "kind");
    size_t i;
    json_t *d;
    json_array_foreach(devices, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *unit = json_string_value(json_object_get(d, "unit"));
        const char *kind = json_string_value(json_object_get(d, "kind"));
        json_t *clock = json_object_get(d, "clock_mhz");
        char clk[32] = "-";
        if (json_is_number(clock))
            snprintf(clk, sizeof clk, "%g", json_number_value(clock));
        printf("%-24s %-7s %9s %9" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT "  %-8s %s\n", name ? name : "?",
               unit ? unit : "?", clk, json_integer_value(json_object_get(d, "entries")),
               json_integer_value(json_object_get(d, "lut_version")),
               json_is_true(json_object_get(d, "measured")) ? "yes" : "no", kind ? kind : "");
    }
    json_decref(answer);
    return 0;
}

/* ------------------------------------------------------------- export */

static int cmd_export(fc_client *c, const args *a)
{
    if (a->ndevices != 1)
        fail_usage("export needs --device NAME");
    const char *format = a->format ? a->format : "csv";
    char *op = NULL;
    if (a->op) {
        if (strspn(a->op, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(a->op) || !a->op[0])
            fail_usage("--op: op names are [a-z0-9_]{1,31}");
        op = (char *)a->op;
    }
    char path[512];
    if (!strcmp(format, "csv")) {
        snprintf(path, sizeof path, "/v1/devices/%s/lut%s%s", a->devices[0], op ? "?op=" : "", op ? op : "");
        int rc = fc_get_stream(c, path, "text/csv", stdout);
        if (fflush(stdout) || rc)
            return rc ? report(c) : 1;
        return 0;
    }
    if (strcmp(format, "json"))
        fail_usage("--format: csv or json");
    /* Pages of up to 10000 rows, printed as they come: one JSON array,
     * one entry per line. */
    fc_buf cursor = {0};
    size_t rows = 0;
    fputs("[", stdout);
    for (;;) {
        char *cur = NULL;
        if (cursor.len) {
            cur = fc_escape(c, cursor.data);
            if (!cur) {
                fc_buf_free(&cursor);
                fprintf(stderr, PROG ": out of memory\n");
                return 1;
            }
        }
        snprintf(path, sizeof path, "/v1/devices/%s/lut?limit=10000%s%s%s%s", a->devices[0], op ? "&op=" : "",
                 op ? op : "", cur ? "&cursor=" : "", cur ? cur : "");
        curl_free(cur);
        json_t *page = NULL;
        if (fc_json(c, "GET", path, NULL, &page)) {
            fc_buf_free(&cursor);
            return report(c);
        }
        json_t *entries = json_object_get(page, "entries"), *next = json_object_get(page, "next_cursor");
        if (!json_is_array(entries)) {
            fc_fail(c, FC_EPROTO, "the page has no \"entries\" array");
            json_decref(page);
            fc_buf_free(&cursor);
            return report(c);
        }
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) {
            fputs(rows++ ? ",\n" : "\n", stdout);
            json_dumpf(e, stdout, JSON_COMPACT);
        }
        cursor.len = 0;
        if (json_is_string(next))
            fc_buf_append(&cursor, json_string_value(next), strlen(json_string_value(next)));
        json_decref(page);
        if (!cursor.len)
            break;
    }
    fc_buf_free(&cursor);
    fputs("\n]\n", stdout);
    return fflush(stdout) ? 1 : 0;
}

/* ----------------------------------------------------------- coverage */

static const char *const csv_columns[] = {"op", "cin", "cout", "k", "stride", "dilation", "groups", "h", "w",
                                          "pad", "out_h", "out_w", "bias", "bn", "dtype", "latency_mean",
                                          "latency_std", "count", "macs"};

static void key_csv_row(json_t *key)
{
    for (size_t i = 0; i < sizeof csv_columns / sizeof csv_columns[0]; i++) {
        json_t *v = json_object_get(key, csv_columns[i]);
        if (i)
            putchar(',');
        if (json_is_string(v))
            fputs(json_string_value(v), stdout);
        else if (json_is_integer(v))
            printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_boolean(v))
            putchar(json_is_true(v) ? '1' : '0');
    }
    putchar('\n');
}

static int cmd_coverage(fc_client *c, const args *a)
{
    if (!a->space || a->ndevices != 1)
        fail_usage("coverage needs --space ID and --device NAME");
    const char *format = a->format ? a->format : "text";
    if (strcmp(format, "text") && strcmp(format, "csv") && strcmp(format, "json"))
        fail_usage("--format: text, csv or json");
    char path[256];
    snprintf(path, sizeof path, "/v1/spaces/%s/layers?device=%s", a->space, a->devices[0]);
    json_t *answer = NULL;
    if (fc_json(c, "GET", path, NULL, &answer))
        return report(c);
    json_t *layers = json_object_get(answer, "layers");
    json_int_t count, present, missing, version;
    double coverage;
    if (!json_is_array(layers) || json_unpack(answer, "{s:I, s:I, s:I, s:I, s:F}", "count", &count, "present",
                                              &present, "missing", &missing, "lut_version", &version, "coverage",
                                              &coverage)) {
        fc_fail(c, FC_EPROTO, "the answer lacks layers, count, present, missing, lut_version or coverage");
        json_decref(answer);
        return report(c);
    }
    json_t *todo = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
        if (json_is_false(json_object_get(l, "present")))
            json_array_append(todo, l);
    if (!strcmp(format, "json")) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:O}", "space", a->space, "device",
                              a->devices[0], "lut_version", version, "count", count, "present", present, "missing",
                              missing, "coverage", coverage, "missing_layers", todo);
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else if (!strcmp(format, "csv")) {
        for (size_t k = 0; k < sizeof csv_columns / sizeof csv_columns[0]; k++)
            printf("%s%s", k ? "," : "", csv_columns[k]);
        putchar('\n');
        json_array_foreach(todo, i, l)
            key_csv_row(json_object_get(l, "key"));
    } else {
        printf("space %s on %s (lut_version %" JSON_INTEGER_FORMAT "): %" JSON_INTEGER_FORMAT " of %"
               JSON_INTEGER_FORMAT " distinct layers profiled (%.1f%%), %" JSON_INTEGER_FORMAT " to do\n",
               a->space, a->devices[0], version, present, count, 100.0 * coverage, missing);
        json_array_foreach(todo, i, l) {
            char *key = json_dumps(json_object_get(l, "key"), JSON_COMPACT);
            printf("%s  macs %" JSON_INTEGER_FORMAT "\n", key ? key : "?", json_integer_value(json_object_get(l, "macs")));
            free(key);
        }
    }
    json_decref(todo);
    json_decref(answer);
    return 0;
}

/* ----------------------------------------------------------- estimate */

static int cmd_estimate(fc_client *c, const args *a)
{
    if (!a->space || !a->genome)
        fail_usage("estimate needs --space ID and --genome JSON (and --device NAME for latency)");
    char why[256];
    json_t *genome = fc_parse(a->genome, strlen(a->genome), why, sizeof why);
    if (!json_is_array(genome) && !json_is_object(genome)) {
        json_decref(genome);
        fail_usage("--genome: a JSON array of choice indices or an object gene -> value (%s)", why);
    }
    json_t *devices = json_array();
    for (int i = 0; i < a->ndevices; i++)
        json_array_append_new(devices, json_string(a->devices[i]));
    json_t *body = json_pack("{s:o, s:[o]}", "devices", devices, "genomes", genome), *answer = NULL;
    char path[256];
    snprintf(path, sizeof path, "/v1/spaces/%s/estimate", a->space);
    int rc = fc_json(c, "POST", path, body, &answer);
    json_decref(body);
    if (rc)
        return report(c);
    json_t *r = json_array_get(json_object_get(answer, "results"), 0);
    if (!json_is_object(r)) {
        fc_fail(c, FC_EPROTO, "the answer has no results[0]");
        json_decref(answer);
        return report(c);
    }
    if (a->json) {
        json_dumpf(r, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(answer);
        return 0;
    }
    char *g = json_dumps(json_object_get(r, "genome"), JSON_COMPACT);
    printf("genome %s\n", g ? g : "?");
    free(g);
    if (json_object_get(r, "macs"))
        printf("macs %" JSON_INTEGER_FORMAT "  flops %" JSON_INTEGER_FORMAT "  params %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(r, "macs")), json_integer_value(json_object_get(r, "flops")),
               json_integer_value(json_object_get(r, "params")));
    const char *dev;
    json_t *lat;
    json_object_foreach(json_object_get(r, "latency"), dev, lat) {
        json_t *ms = json_object_get(lat, "ms");
        printf("latency on %s: %g %s", dev, json_number_value(json_object_get(lat, "total")),
               json_string_value(json_object_get(lat, "unit")) ? json_string_value(json_object_get(lat, "unit")) : "");
        if (json_is_number(ms))
            printf(" = %.4f ms", json_number_value(ms));
        printf("  (%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " layers in the table%s)\n",
               json_integer_value(json_object_get(lat, "hits")), json_integer_value(json_object_get(lat, "layers")),
               json_is_true(json_object_get(lat, "complete")) ? "" : "; INCOMPLETE: a lower bound");
    }
    json_decref(answer);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* One option into a (exits on a bad value); 1 for --help. */
static int take_option(args *a, fc_retry *retry, int id, const char *v)
{
    long n;
    switch (id) {
    case O_SERVER:
        a->server = v;
        break;
    case O_TOKEN_FILE:
        a->token_file = v;
        break;
    case O_DEVICE:
        if (!fc_name_ok(v))
            fail_usage("--device: device names are [a-z0-9._-]{1,64}");
        if (a->ndevices == MAX_DEVICES)
            fail_usage("at most %d devices", MAX_DEVICES);
        a->devices[a->ndevices++] = v;
        break;
    case O_MODE:
        if (strcmp(v, "replace") && strcmp(v, "merge"))
            fail_usage("--mode: replace or merge");
        a->mode = v;
        break;
    case O_FORMAT:
        a->format = v;
        break;
    case O_MAP:
        a->map = v;
        break;
    case O_OP:
        a->op = v;
        break;
    case O_SPACE:
        if (!fc_name_ok(v))
            fail_usage("--space: space ids are [a-z0-9._-]{1,64}");
        a->space = v;
        break;
    case O_GENOME:
        a->genome = v;
        break;
    case O_JSON:
        a->json = 1;
        break;
    case O_RETRIES:
        if (fc_parse_long(v, 0, 1000, &n))
            fail_usage("--server-retries: a number 0..1000");
        retry->retries = (int)n;
        break;
    case O_TIMEOUT:
        if (fc_parse_long(v, 1, 86400, &n))
            fail_usage("--server-timeout: seconds 1..86400");
        retry->stall_timeout_s = n;
        break;
    case 'h':
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    int (*run)(fc_client *, const args *);
} commands[] = {{"upload", cmd_upload}, {"devices", cmd_devices}, {"export", cmd_export},
                {"coverage", cmd_coverage}, {"estimate", cmd_estimate}, {"import", cmd_import}};

int main(int argc, char **argv)
{
    static args a; /* static: what it holds stays reachable on exit() paths */
    a.server = fc_default_server();
    a.mode = "replace";
    fc_retry retry = {8, 250, 8000, 5, 300};
    char err[256];
    int id;
    /* Options may come before and after the command and its files. */
    opterr = 0;
    while ((id = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (id == ':' || id == '?') {
            fc_opt_error(argv, options, id, err, sizeof err);
            fail_usage("%s", err);
        }
        if (take_option(&a, &retry, id, optarg)) {
            fputs(usage, stdout);
            return 0;
        }
    }
    if (optind == argc)
        fail_usage("which command? upload, import, devices, export, coverage or estimate");
    a.command = argv[optind];
    a.files = argv + optind + 1;
    a.nfiles = argc - optind - 1;
    int (*cmd)(fc_client *, const args *) = NULL;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(a.command, commands[k].name))
            cmd = commands[k].run;
    if (!cmd)
        fail_usage("unknown command \"%s\"", a.command);
    if (a.nfiles && cmd != cmd_upload && cmd != cmd_import)
        fail_usage("unexpected argument \"%s\"", a.files[0]);
    static fc_client *c;
    if (fc_open(&c, a.server)) {
        fprintf(stderr, PROG ": cannot set up the HTTP client for %s\n", a.server);
        return 1;
    }
    char *token = NULL;
    char terr[1200];
    int trc = fc_token_load(a.token_file, &token, terr, sizeof terr);
    if (trc == FC_OK)
        trc = fc_set_token(c, token);
    free(token);
    if (trc) {
        fprintf(stderr, PROG ": %s\n", trc == FC_ENOMEM ? "out of memory" : terr);
        fc_close(c);
        return 2;
    }
    fc_set_retry(c, &retry);
    fc_set_notice(c, on_notice, NULL);
    int rc = cmd(c, &a);
    fc_close(c);
    return rc;
}
