/*
 * sur_internal.h — declarations shared between the files of surrogate/ and
 * no one else. Public names are sur_*, cross-file internal names are Sur_*
 * (as lut/ does with Lut_*), everything else is static.
 */
#ifndef FMAS_SUR_INTERNAL_H
#define FMAS_SUR_INTERNAL_H

#include "sur.h"

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_matrix.h>

/* A GSL return code as a library code: GSL's own negative codes
 * (GSL_FAILURE, GSL_CONTINUE) would collide with nothing of ours but mean
 * "did not converge" where the library meets them. */
int Sur_gsl_rc(int gsl_rc);

/* gsl_matrix_alloc with an odd row stride (tda = n2 | 1), freed by
 * gsl_matrix_free. At n2 = 256 a plain stride of 2 KiB puts the rows of a
 * column in a few cache sets: Cholesky and its inverse ran 1.5 to 2.8
 * times slower than at n2 = 257. NULL without memory (or n1 or n2 0). */
gsl_matrix *Sur_matrix_alloc(size_t n1, size_t n2);

/* splitmix64: the library's only random source, seeded per call. */
static inline uint64_t Sur_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double Sur_rng_uniform(uint64_t *state)
{
    return (double)(Sur_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n >= 1 (rejection sampling, no modulo bias). */
uint64_t Sur_rng_below(uint64_t *state, uint64_t n);

/* Check a sur_data for the calls that take one: sizes, pointers, finite
 * values, counts >= 1. */
int Sur_data_check(const sur_data *data);

/*
 * The standardized training set every model starts from: z = (x - mu)/sd
 * per column (sd of a constant column taken as 1), unless standardize is 0
 * (mu 0, sd 1). w[i] = count[i] (1 without counts). ybar is the weighted
 * mean of y.
 */
typedef struct Sur_train {
    size_t n, d;
    double *z;      /* n x d */
    double *y;      /* n */
    double *w;      /* n, weights = counts */
    double *mu, *sd; /* d */
    double ybar;
    double wsum;
} Sur_train;

/* Whether opt's cancel hook asks the fit to stop (opt may be NULL). */
static inline int Sur_cancelled(const sur_options *opt)
{
    return opt && opt->cancel && opt->cancel(opt->cancel_ctx);
}

int Sur_train_make(Sur_train *t, const sur_data *data, const size_t *rows,
                   size_t n_rows, int standardize);
void Sur_train_free(Sur_train *t);

/* Per-kind fitted state, behind the common sur_model. */
typedef struct Sur_ridge Sur_ridge;
typedef struct Sur_gp Sur_gp;
typedef struct Sur_ogp Sur_ogp;
typedef struct Sur_forest Sur_forest;

struct sur_model {
    sur_kind kind;
    size_t d;
    double *mu, *sd;  /* standardization of the raw features, d each */
    sur_model_info info;
    Sur_ridge *ridge;
    Sur_gp *gp;
    Sur_ogp *ogp;
    Sur_forest *forest;
    sur_model *member[SUR_ENSEMBLE_MAX]; /* ensemble: info.ensemble_n */
};

/*
 * Kind-specific fitting on a standardized training set; fills the kind's
 * fields of info. Predictions: z is n x d standardized rows; mean gets the
 * predicted mean; var_latent (may be NULL) the variance of the mean; the
 * noise variance of one observation is in *noise_var.
 */
int Sur_ridge_fit(const Sur_train *t, const sur_options *opt, Sur_ridge **out,
                  sur_model_info *info);
void Sur_ridge_free(Sur_ridge *r);
/* The same with the route forced (primal: the P x P Gram matrix; dual: the
 * n x n one; auto: the smaller) and lambda fixed when fixed_lambda > 0;
 * for the unit tests, which compare the routes. */
typedef enum Sur_ridge_route {
    SUR_RIDGE_AUTO = 0,
    SUR_RIDGE_PRIMAL,
    SUR_RIDGE_DUAL
} Sur_ridge_route;
int Sur_ridge_fit_as(const Sur_train *t, const sur_options *opt,
                     Sur_ridge_route route, double fixed_lambda,
                     Sur_ridge **out, sur_model_info *info);
int Sur_ridge_predict(const Sur_ridge *r, const double *z, size_t n,
                      double *mean, double *var_latent);
double Sur_ridge_noise_var(const Sur_ridge *r);

/* sur_tridiag.c. The tridiagonal reduction of gsl_linalg_symmtd_decomp,
 * same layout, on an m x m row-major array (lower triangle); tau m - 1,
 * work 2 m. Then for T (diagonal td, subdiagonal ts): T + mu I = L D L^T
 * (pivots piv, subdiagonal low; -1 when a pivot is not positive), its
 * solve (returns b^T x; x may be b), b^T (T + mu I)^-1 b alone. Split
 * takes T out of A and lays the reflectors out for apply_qt / apply_q
 * (Q^T or Q applied to rows). */
int Sur_tridiag_reduce(double *A, size_t m, double *tau, double *work);
int Sur_tridiag_ldl(const double *td, const double *ts, size_t m, double mu,
                    double *piv, double *low);
double Sur_tridiag_solve(const double *piv, const double *low, size_t m,
                         const double *b, double *x);
double Sur_tridiag_quad(const double *piv, const double *low, size_t m,
                        const double *b);
void Sur_tridiag_split(double *A, size_t m, const double *tau, double *td,
                       double *ts, double *c);
void Sur_tridiag_apply_qt(const double *refl, const double *tau, size_t m,
                          double *V, size_t rows, size_t ld);
void Sur_tridiag_apply_q(const double *refl, const double *tau, size_t m,
                         double *V, size_t rows, size_t ld);

/*
 * The posterior of a fitted Gaussian process at n query rows z: both GP
 * kinds differ only in their kernel, which `cross` fills in as the
 * N x m block between the N training rows and m query rows. L: the
 * Cholesky factor of the training covariance; alpha: its solve of the
 * standardized targets; ybar, ys: the targets' mean and scale; s2: the
 * signal variance. var_latent (may be NULL) is in y units.
 */
typedef struct Sur_posterior {
    size_t n, d;
    const gsl_matrix *L;
    const double *alpha;
    double ybar, ys, s2;
    void (*cross)(const void *model, const double *zq, size_t m, gsl_matrix *R);
    const void *model;
} Sur_posterior;
int Sur_gp_posterior(const Sur_posterior *p, const double *z, size_t n, double *mean,
                     double *var_latent);

int Sur_gp_fit(const Sur_train *t, const sur_options *opt, Sur_gp **out,
               sur_model_info *info);
void Sur_gp_free(Sur_gp *g);
int Sur_gp_predict(const Sur_gp *g, const double *z, size_t n, double *mean,
                   double *var_latent);
double Sur_gp_noise_var(const Sur_gp *g);

int Sur_ogp_fit(const Sur_train *t, const sur_options *opt, Sur_ogp **out,
                sur_model_info *info);
void Sur_ogp_free(Sur_ogp *g);
int Sur_ogp_predict(const Sur_ogp *g, const double *z, size_t n, double *mean,
                    double *var_latent);
double Sur_ogp_noise_var(const Sur_ogp *g);

int Sur_forest_fit(const Sur_train *t, const sur_options *opt,
                   Sur_forest **out, sur_model_info *info);
void Sur_forest_free(Sur_forest *f);
int Sur_forest_predict(const Sur_forest *f, const double *z, size_t n,
                       double *mean, double *var_latent);
double Sur_forest_noise_var(const Sur_forest *f);

#endif
