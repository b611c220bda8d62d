/*
 * test_lut_calib.c — the end-to-end calibration (lut/lut_calib.h): a known
 * linear map is recovered, the closed-form leave-one-out equals refits,
 * the simplest adequate map is chosen, and unusable networks are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "lut_calib.h"

#define N 40

static void networks(double *raw, double *layers, double *y, double a, double b, double c,
                     double noise)
{
    for (int i = 0; i < N; i++) {
        raw[i] = 1000 + 97.0 * i + 13.0 * (i % 7);
        layers[i] = 20 + (i * 7) % 31;
        y[i] = (a + b * raw[i] + c * layers[i]) * (1 + noise * sin(3.0 * i + 1));
    }
}

static void recovers_a_known_linear_map(void **state)
{
    (void)state;
    double raw[N], layers[N], y[N];
    lut_calib cal;
    networks(raw, layers, y, 250, 1.4, 30, 0);
    assert_int_equal(lut_calib_fit(raw, layers, y, N, &cal), 0);
    assert_int_equal(cal.model, LUT_CAL_AFFINE_LAYERS);
    assert_true(fabs(cal.coef[0] - 250) < 1e-6 && fabs(cal.coef[1] - 1.4) < 1e-9 &&
                fabs(cal.coef[2] - 30) < 1e-7);
    assert_int_equal(cal.networks, N);
    assert_true(cal.cv_rel_rmse < 1e-9 && cal.cv_within10 == 1.0);
    assert_true(cal.raw_within10 < 0.5);
    assert_true(fabs(lut_calib_apply(&cal, 2000, 10) - (250 + 1.4 * 2000 + 300)) < 1e-6);
}

static void the_simplest_adequate_map_wins(void **state)
{
    (void)state;
    double raw[N], layers[N], y[N];
    lut_calib cal;
    networks(raw, layers, y, 0, 1.0, 0, 0.01);
    assert_int_equal(lut_calib_fit(raw, layers, y, N, &cal), 0);
    assert_int_equal(cal.model, LUT_CAL_IDENTITY);
    networks(raw, layers, y, 0, 1.25, 0, 0.01);
    assert_int_equal(lut_calib_fit(raw, layers, y, N, &cal), 0);
    assert_int_equal(cal.model, LUT_CAL_SCALE);
    assert_true(fabs(cal.coef[1] - 1.25) < 0.01 && cal.coef[0] == 0 && cal.coef[2] == 0);
    assert_string_equal(lut_calib_model_name(cal.model), "scale");
    /* Exactly proportional: scale is exact, and the richer maps' scores,
     * rounding noise like its own, do not take over (without the absolute
     * margin, affine won at 0.0473 and at 0.0563 among these). */
    for (int k = 1; k <= 200; k++) {
        networks(raw, layers, y, 0, 0.0123 + 0.001 * k, 0, 0.0);
        assert_int_equal(lut_calib_fit(raw, layers, y, N, &cal), 0);
        assert_int_equal(cal.model, LUT_CAL_SCALE);
    }
}

static void loo_closed_form_equals_refits(void **state)
{
    (void)state;
    double raw[N], layers[N], y[N], a[N], b[N];
    networks(raw, layers, y, 250, 1.4, 30, 0.05);
    for (int m = LUT_CAL_IDENTITY; m < LUT_CAL_MODELS; m++) {
        assert_int_equal(lut_calib_loo((lut_calib_model)m, raw, layers, y, N, 0, a), 0);
        assert_int_equal(lut_calib_loo((lut_calib_model)m, raw, layers, y, N, 1, b), 0);
        for (int i = 0; i < N; i++)
            assert_true(fabs(a[i] - b[i]) <= 1e-9 * fabs(b[i]));
    }
}

static void unusable_networks_are_left_out(void **state)
{
    (void)state;
    double raw[N], layers[N], y[N];
    lut_calib cal;
    networks(raw, layers, y, 250, 1.4, 30, 0);
    raw[3] = 0;
    y[5] = -1;
    y[7] = NAN;
    assert_int_equal(lut_calib_fit(raw, layers, y, N, &cal), 0);
    assert_int_equal(cal.networks, N - 3);
    assert_true(fabs(cal.coef[1] - 1.4) < 1e-9);
    /* Two networks: nothing to choose, the identity. */
    assert_int_equal(lut_calib_fit(raw + 10, layers + 10, y + 10, 2, &cal), 0);
    assert_int_equal(cal.model, LUT_CAL_IDENTITY);
    assert_int_equal(cal.networks, 2);
    assert_int_equal(lut_calib_fit(NULL, layers, y, 2, &cal), LUT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recovers_a_known_linear_map),
        cmocka_unit_test(the_simplest_adequate_map_wins),
        cmocka_unit_test(loo_closed_form_equals_refits),
        cmocka_unit_test(unusable_networks_are_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
