/*
 * test_auth.c — fmasd's bearer tokens (server/auth.h): which requests
 * need which token, the parsing of the Authorization header, and the
 * loading of token files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

static void set(fm_auth *a, const char *write, const char *read)
{
    char err[256];
    memset(a, 0, sizeof *a);
    if (write)
        assert_int_equal(fm_auth_set(write, a->write_token, &a->write_len, err, sizeof err), 0);
    if (read)
        assert_int_equal(fm_auth_set(read, a->read_token, &a->read_len, err, sizeof err), 0);
}

static void test_no_token_everything_open(void **state)
{
    (void)state;
    fm_auth a;
    set(&a, NULL, NULL);
    assert_int_equal(fm_auth_check(&a, "PUT", "/v1/devices/x", NULL), FM_AUTH_OK);
    assert_int_equal(fm_auth_check(&a, "GET", "/metrics", "Bearer whatever"), FM_AUTH_OK);
}

static void test_write_token(void **state)
{
    (void)state;
    fm_auth a;
    set(&a, "s3cret", NULL);
    const char *writes[] = {"PUT", "POST", "DELETE", "PATCH"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(fm_auth_check(&a, writes[i], "/v1/x", NULL), FM_AUTH_MISSING);
        assert_int_equal(fm_auth_check(&a, writes[i], "/v1/x", "Bearer s3cret"), FM_AUTH_OK);
    }
    const char *missing[] = {"", "Bearer", "Bearer ", "Basic s3cret", "s3cret", "Bearers3cret",
                             "Bearer s3 cret", "Bearer s3cret x"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++)
        assert_int_equal(fm_auth_check(&a, "POST", "/v1/x", missing[i]), FM_AUTH_MISSING);
    const char *wrong[] = {"Bearer s3cre", "Bearer s3cret!", "Bearer S3CRET", "Bearer x"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
        assert_int_equal(fm_auth_check(&a, "POST", "/v1/x", wrong[i]), FM_AUTH_WRONG);
    assert_int_equal(fm_auth_check(&a, "POST", "/v1/x", "bearer \t s3cret  "), FM_AUTH_OK);
    assert_int_equal(fm_auth_check(&a, "GET", "/v1/devices", NULL), FM_AUTH_OK);
    assert_int_equal(fm_auth_check(&a, "HEAD", "/", NULL), FM_AUTH_OK);
}

static void test_read_token(void **state)
{
    (void)state;
    fm_auth a;
    set(&a, "w-token", "r-token");
    assert_int_equal(fm_auth_check(&a, "GET", "/v1/devices", NULL), FM_AUTH_MISSING);
    assert_int_equal(fm_auth_check(&a, "GET", "/v1/devices", "Bearer r-token"), FM_AUTH_OK);
    assert_int_equal(fm_auth_check(&a, "HEAD", "/metrics", "Bearer w-token"), FM_AUTH_OK);
    assert_int_equal(fm_auth_check(&a, "GET", "/v1/devices", "Bearer r-tokenx"), FM_AUTH_WRONG);
    assert_int_equal(fm_auth_check(&a, "GET", "/v1/health", NULL), FM_AUTH_OK);
    assert_int_equal(fm_auth_check(&a, "GET", "/", NULL), FM_AUTH_OK);
    assert_int_equal(fm_auth_check(&a, "PUT", "/v1/devices/x", "Bearer r-token"), FM_AUTH_WRONG);
    assert_int_equal(fm_auth_check(&a, "POST", "/v1/health", NULL), FM_AUTH_MISSING);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_token_files(void **state)
{
    (void)state;
    const char *dir = getenv("FMAS_TMP") ? getenv("FMAS_TMP") : "/tmp";
    char path[4096], err[4400], token[FM_TOKEN_MAX + 1];
    size_t len = 0;
    int warn = -1;
    snprintf(path, sizeof path, "%s/test_auth.%ld.token", dir, (long)getpid());

    write_file(path, "abc\r\n", 0600);
    assert_int_equal(fm_auth_load_file(path, token, &len, &warn, err, sizeof err), 0);
    assert_string_equal(token, "abc");
    assert_int_equal(len, 3);
    assert_int_equal(warn, 0);

    write_file(path, "abc", 0644);
    assert_int_equal(fm_auth_load_file(path, token, &len, &warn, err, sizeof err), 0);
    assert_int_equal(warn, 1);

    const char *bad[] = {"", "\n", "a b\n", "a\tb", "two\nlines\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(path, bad[i], 0600);
        assert_int_equal(fm_auth_load_file(path, token, &len, &warn, err, sizeof err), -1);
        assert_non_null(strstr(err, path));
    }
    char *big = malloc(FM_TOKEN_MAX + 2);
    assert_non_null(big);
    memset(big, 'x', FM_TOKEN_MAX + 1);
    big[FM_TOKEN_MAX + 1] = '\0';
    write_file(path, big, 0600);
    assert_int_equal(fm_auth_load_file(path, token, &len, &warn, err, sizeof err), -1);
    big[FM_TOKEN_MAX] = '\0';
    write_file(path, big, 0600);
    assert_int_equal(fm_auth_load_file(path, token, &len, &warn, err, sizeof err), 0);
    assert_int_equal(len, FM_TOKEN_MAX);
    free(big);

    unlink(path);
    assert_int_equal(fm_auth_load_file(path, token, &len, &warn, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    assert_int_equal(fm_auth_set("", token, &len, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_token_everything_open),
        cmocka_unit_test(test_write_token),
        cmocka_unit_test(test_read_token),
        cmocka_unit_test(test_token_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
