/*
 * sur_batch.c — predictions of a batch whose rows do not depend on each
 * other (see sur_predict_batch in sur.h).
 *
 * sur_predict computes the ridge leverages of its rows four at a time
 * (sur_ridge.c, reflect4), with the sums of each row in one order, and
 * the rows left over after the last group of four one at a time (reflect),
 * with the sums split four ways. Both are exact to rounding, but a row's
 * last bits then depend on its place in the batch. Here every row is in a
 * group of four: the last rows are padded with copies of the last one.
 * The GP computes each row on its own already.
 */
#include <stdlib.h>
#include <string.h>

#include "sur.h"

#define GROUP 4

int sur_predict_batch(const sur_model *model, const double *x, size_t n,
                      double *mean, double *std, double *std_latent)
{
    size_t head = n - n % GROUP, tail = n - head;
    int rc = sur_predict(model, x, head, mean, std, std_latent);
    if (rc || tail == 0)
        return rc;
    sur_model_info info;
    sur_model_get_info(model, &info);
    size_t d = info.d;
    double *px = malloc(GROUP * d * sizeof *px + 1);
    double out[3][GROUP];
    if (!px)
        return SUR_ENOMEM;
    for (size_t i = 0; i < GROUP; i++)
        memcpy(px + i * d, x + (head + (i < tail ? i : tail - 1)) * d, d * sizeof *px);
    rc = sur_predict(model, px, GROUP, out[0], std ? out[1] : NULL, std_latent ? out[2] : NULL);
    free(px);
    if (rc)
        return rc;
    for (size_t i = 0; i < tail; i++) {
        mean[head + i] = out[0][i];
        if (std)
            std[head + i] = out[1][i];
        if (std_latent)
            std_latent[head + i] = out[2][i];
    }
    return SUR_OK;
}
