/*
 * sur.h — surrogate models of a metric over a search space, and screening.
 *
 * Observations (a genome's measured accuracy) become feature rows; several
 * model kinds are fitted on them — ridge regression on the features and
 * their pairwise products or on the features alone, a Matern Gaussian
 * process, a Gaussian process with an overlap (categorical, per-feature
 * weighted) kernel, a random forest, and an ensemble of the best of these —
 * and chosen between by k-fold cross-validation on rank quality (Kendall
 * tau-b). A fitted model predicts
 * a mean and a standard deviation for new rows. Screening then decides,
 * from predicted costs and predicted metrics with their uncertainty, which
 * candidates deserve a real evaluation. The library knows nothing of HTTP,
 * JSON, layer tables or spaces: the caller turns genomes into rows with
 * sur_features and passes plain arrays.
 *
 * Conventions, written once and followed everywhere:
 * - Call sur_init() once at start-up, before any other thread runs. It turns
 *   GSL's default error handler (which aborts the process) off; that switch
 *   is process-global, which is why the library does not flip it behind the
 *   application's back. Every GSL return code is checked inside.
 * - Every function that can fail returns int: 0 (SUR_OK), a negative SUR_E*
 *   code, or a positive GSL code (GSL_EDOM, GSL_ENOMEM, ...). sur_strerror()
 *   turns any of them into text.
 * - Inputs are borrowed: the caller owns every array and struct it passes
 *   in, and the library copies what it keeps. No object keeps a pointer
 *   into the caller's memory after the call returns.
 * - Objects the library makes (sur_features, sur_model) belong to the
 *   caller, who frees them with sur_features_free / sur_model_free. They are
 *   immutable once made, so any number of threads may use one at the same
 *   time without locking; every call allocates its own scratch space.
 * - Outputs go to caller storage of the size each call states. A call that
 *   fails leaves its outputs unspecified (a *model out-pointer is NULL).
 * - Matrices are dense, row-major doubles: row i of an n x d matrix x is
 *   x[i*d .. i*d + d-1].
 * - No globals but constant tables. Randomness (fold assignment, optimizer
 *   starts) comes from the seed in sur_options: the same inputs and options
 *   give the same model, bit for bit, on the same build.
 *
 * Typical use (a server refitting one metric of one space):
 *   sur_features_create(&f, genes, n_genes, 2);      once per space
 *   average the repeats of each distinct genome -> y[i], count[i];
 *   sur_features_encode_many(f, genomes, extra, n, x);
 *   sur_fit_best(&(sur_data){n, dim, x, y, count}, NULL, &model, &sel);
 *   publish model (readers keep using the old one until it is swapped);
 *   sur_predict(model, rows, m, mean, std, NULL);     any thread, any time
 *   sur_screen(&problem, verdicts);                   with those mean, std
 */
#ifndef FMAS_SUR_H
#define FMAS_SUR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SUR_OK = 0,
    SUR_EINVAL = -31001,  /* an argument is invalid (size, NaN, range) */
    SUR_ENOMEM = -31002,
    SUR_ETOOFEW = -31003, /* fewer rows than the model needs */
    SUR_ENOTPD = -31004,  /* a covariance stayed indefinite with max jitter */
    SUR_ETOOBIG = -31005, /* more rows than the model accepts */
    SUR_ENOCONV = -31006, /* an optimizer or minimizer did not converge */
    SUR_EFAILED = -31007, /* every candidate model failed to fit */
    SUR_ECANCELED = -31008 /* the options' cancel hook asked to stop */
};

/* Process-wide set-up: gsl_set_error_handler_off(). Call once at start-up,
 * before threads; calling it again is harmless. */
void sur_init(void);

/* Text for any code this library returns (SUR_E* or a GSL code). */
const char *sur_strerror(int rc);

/* ------------------------------------------------------------ features */

/*
 * One gene as the surrogate sees it. choices are the numeric values of the
 * gene's choices, by index (those of a lut_space_gene). An ordered gene
 * becomes one feature, (v - min) / (max - min) over its choices (0 when it
 * has a single choice). An unordered gene (the caller says so) becomes one
 * 0/1 feature per choice (one-hot).
 */
typedef struct sur_gene {
    const double *choices;
    size_t n_choices;
    int unordered;
} sur_gene;

/* Turns genomes (one choice index per gene, as in lut space.h) plus
 * n_extra caller-supplied numbers per genome (e.g. log MACs and log params
 * of builder spaces) into feature rows. Immutable; share freely. */
typedef struct sur_features sur_features;

/* 1..4096 genes of 1..256 finite choices each; n_extra <= 64. */
int sur_features_create(sur_features **out, const sur_gene *genes,
                        size_t n_genes, size_t n_extra);
void sur_features_free(sur_features *f);

/* Features per row: one per ordered gene, n_choices per unordered gene,
 * then the n_extra numbers as given. */
size_t sur_features_dim(const sur_features *f);
size_t sur_features_genes(const sur_features *f);
size_t sur_features_extra(const sur_features *f);

/*
 * Encode one genome into row[0 .. dim-1]. extra holds n_extra finite numbers
 * (NULL when n_extra is 0). SUR_EINVAL for an index out of range or a
 * non-finite extra; row is then unspecified. Rows are raw: each model
 * standardizes its features with the mean and std of its training rows and
 * keeps them, so prediction rows are encoded the same way.
 */
int sur_features_encode(const sur_features *f, const int *genome,
                        const double *extra, double *row);

/* The same for n genomes: genomes is n x n_genes, extra n x n_extra
 * (NULL when n_extra is 0), rows n x dim. */
int sur_features_encode_many(const sur_features *f, const int *genomes,
                             const double *extra, size_t n, double *rows);

/* ------------------------------------------------------------ training */

/*
 * Training data: one row per DISTINCT genome. y[i] is the mean of the
 * count[i] repeated observations of row i (count NULL: every count is 1).
 * The repeat count enters each model as a precision weight, because the
 * mean of c observations has 1/c of their noise variance:
 * - ridge: weighted least squares, row i weighted by count[i] (weighted
 *   means for centering, weighted residual variance);
 * - GP: noise variance of row i is sigma_n^2 / count[i].
 * x is n x d, y n values, every value finite, every count >= 1.
 */
typedef struct sur_data {
    size_t n, d;
    const double *x;
    const double *y;
    const size_t *count;
} sur_data;

typedef enum sur_kind {
    SUR_RIDGE = 0, /* ridge on features + pairwise products, GCV lambda */
    SUR_GP = 1,    /* Gaussian process, Matern 5/2 kernel, ML-II */
    SUR_GP_OVERLAP = 2, /* Gaussian process, overlap (ARD exponential)
                           kernel: categorical on one-hot genes, ML-II */
    SUR_FOREST = 3,     /* random forest, spread of the trees as std */
    SUR_RIDGE_LINEAR = 4, /* ridge on the features alone, GCV lambda */
    SUR_ENSEMBLE = 5    /* weighted mean of the best other kinds */
} sur_kind;
#define SUR_N_KINDS 6
#define SUR_ENSEMBLE_MAX 3 /* members of an ensemble */

/* "ridge", "gp", "gp_overlap", "forest", "ridge_linear", "ensemble";
 * NULL for anything else. */
const char *sur_kind_name(sur_kind kind);

typedef struct sur_options {
    uint64_t seed;      /* folds, GP starts and subset (default 1) */
    unsigned folds;     /* k of k-fold CV; 0 = min(5, n) (default 0) */
    /* Fold of each training row (n values < the number of folds, every
     * fold non-empty), or NULL to deal the rows into min(5, n) folds from
     * a seeded shuffle. Borrowed for the duration of the call. */
    const unsigned *fold_of;
    int standardize;    /* 1: scale features to mean 0, std 1 (default 1) */

    /* ridge */
    int ridge_products;     /* pairwise products x_a*x_b, a < b (default 1) */
    int ridge_squares;      /* squares x_a^2 (default 1; needs products) */
    size_t ridge_max_terms; /* more expanded terms than this: linear terms
                               only (default 4096) */

    /* GP */
    unsigned gp_starts;  /* unused: the GP's search (a grid over its
                            length, the best noise of each length exact)
                            needs no starts; kept for source compatibility */
    size_t gp_subset;    /* above this many rows m, the search runs on a
                            seeded random subset of m rows, and the best point
                            is refined on nested subsets of 2m, 4m, ... rows
                            and then on all rows (default 256; 0: never) */
    unsigned gp_polish;  /* Brent iterations per refinement stage
                            (default 20; 0: keep the subset's optimum) */
    size_t gp_max_rows;  /* SUR_ETOOBIG above this (default 4000) */
    /* Fixed hyperparameters (no optimization) when gp_fixed is 1: signal
     * variance and noise variance in units of y squared, length scale in
     * (standardized, if standardize) feature units. */
    int gp_fixed;
    double gp_signal_var, gp_length, gp_noise_var;

    /* Polled between folds, kinds, trees and likelihood evaluations: a
     * nonzero answer ends the fit with SUR_ECANCELED, freeing what it
     * made. It must be safe to call from the fitting thread. NULL: never
     * (default). */
    int (*cancel)(void *ctx);
    void *cancel_ctx;
} sur_options;

/* Fill opt with the defaults above. */
void sur_options_default(sur_options *opt);

/* A fitted model: immutable, thread-safe to share, sur_model_free. */
typedef struct sur_model sur_model;

/*
 * Fit one model kind on data. opt may be NULL (defaults). Needs n >= 2
 * distinct rows (SUR_ETOOFEW), d >= 1; the GP refuses n > gp_max_rows with
 * SUR_ETOOBIG. On success *out is a new model; on failure *out is NULL.
 *
 * Ridge: rows are standardized, expanded to [x, x_a x_b (a<b), x_a^2],
 * centered with the count-weighted mean and solved through the eigen-
 * decomposition of the smaller Gram matrix (X^T X or X X^T, gsl_eigen_symmv).
 * lambda minimizes the generalized cross-validation curve
 * G(l) = ||y - X b_l||^2 / (n - 1 - tr H_l)^2, the curve of
 * gsl_multifit_linear_gcv (penalty l^2 ||b||^2, grid from
 * gsl_multifit_linear_lreg, Brent refinement like GSL's), evaluated from
 * that spectrum, the - 1 for the unpenalized intercept. The
 * residual variance is the weighted RSS over n - 1 - tr H (see
 * sur_ridge.c for the nearly interpolating case).
 *
 * GP: k(r) = s2 (1 + sqrt5 r/l + 5r^2/(3l^2)) exp(-sqrt5 r/l) (Matern 5/2,
 * one length scale l for all features), constant mean = count-weighted mean
 * of y, noise variance sn2 / count[i] on the diagonal. log l and
 * log(sn2/s2) maximize the log marginal likelihood with s2 profiled out in
 * closed form: for each l, one tridiagonal reduction gives the best
 * sn2/s2 exactly; l comes from a grid and Brent (gsl_min) on that profile
 * (on a subset first when n > gp_subset, see sur_options and sur_gp.c);
 * Cholesky is gsl_linalg_cholesky_decomp1 with jitter 1e-10..1e-4 (times the
 * signal variance) added on failure.
 *
 * GP overlap: k(x, x') = s2 exp(-sum_j theta_j |x_j - x'_j|) on the
 * standardized rows, one theta_j per feature (on one-hot columns: the
 * categorical overlap kernel with a weight per choice), log theta_j and
 * log(sn2/s2) by vector_bfgs2 on the analytic gradient of the profiled
 * likelihood plus a weak prior on log theta_j about its start (sur_ogp.c);
 * hyperparameters on a seeded subset of gp_subset rows when n is larger;
 * gp_max_rows applies. Forest: 100 trees on seeded bootstraps, splits on
 * max(1, d/3) drawn features, leaves pure or single (sur_forest.c).
 * Ensemble: the equal-weight mean of ridge, gp_overlap and forest here;
 * sur_fit_best builds its own from cross-validation.
 */
int sur_fit(sur_kind kind, const sur_data *data, const sur_options *opt,
            sur_model **out);

void sur_model_free(sur_model *model);

/*
 * Predict for n raw rows x (n x d, d as in training, encoded like the
 * training rows). mean[i] is the predicted metric. std (may be NULL) gets
 * the predictive standard deviation of ONE NEW OBSERVATION of the row: it
 * includes the noise variance (GP: sn2; ridge: sigma^2 of the residuals),
 * so that held-out observations fall within +-1 std about 68% of the time.
 * std_latent (may be NULL) gets the standard deviation of the underlying
 * mean alone (no noise): what averaging many repeats would converge to.
 * With std and std_latent NULL the cost per row is O(n d) (GP) or O(P)
 * (ridge, P expanded terms); with either, O(n^2) or O(P^2).
 */
int sur_predict(const sur_model *model, const double *x, size_t n,
                double *mean, double *std, double *std_latent);

typedef struct sur_model_info {
    sur_kind kind;
    size_t n;          /* distinct training rows */
    size_t n_obs;      /* sum of counts */
    size_t d;          /* raw features per row */
    double y_mean;     /* count-weighted mean of y */
    /* ridge */
    size_t ridge_terms;   /* expanded terms P */
    double ridge_lambda;  /* GCV choice; penalty lambda^2 ||b||^2 */
    double ridge_dof;     /* effective degrees of freedom tr H, intercept
                             included */
    double ridge_sigma2;  /* residual variance of one observation */
    /* GP */
    double gp_signal_var; /* s2, units of y^2 */
    double gp_length;     /* l, in (standardized) feature units */
    double gp_noise_var;  /* sn2 of one observation, units of y^2 */
    double gp_jitter;     /* jitter added to the final factorization */
    double gp_lml;        /* log marginal likelihood at the optimum */
    /* forest */
    size_t forest_trees;
    /* ensemble: its members and their weights (summing to 1) */
    size_t ensemble_n;
    sur_kind ensemble_kind[SUR_ENSEMBLE_MAX];
    double ensemble_weight[SUR_ENSEMBLE_MAX];
    /* every kind: the factor applied to the model's own std so that its
     * cross-validated residuals fall within +-2 std at least 95% of the
     * time (1 unless sur_fit_best found them wider; see there) */
    double std_scale;
} sur_model_info;

void sur_model_get_info(const sur_model *model, sur_model_info *out);

/* ---------------------------------------------------- model selection */

/* Cross-validated figures of one model kind: every row is predicted once,
 * by the model fitted on the other folds. tau and rho compare held-out y
 * with the predicted means (0 when undefined, e.g. constant predictions);
 * rmse is unweighted over rows; the coverages count rows whose |y - mean|
 * is within 1 and 2 predictive std, where the std of a held-out row that
 * averages c repeats uses noise variance / c. */
typedef struct sur_cv {
    unsigned folds;
    double kendall_tau;
    double spearman_rho;
    double rmse;
    double coverage_1sigma;
    double coverage_2sigma;
} sur_cv;

/* k-fold CV of one kind. Needs n >= 3 (SUR_ETOOFEW). The ensemble kind
 * is here (as in sur_fit) the equal-weight mean of ridge, gp_overlap and
 * forest, its std uncalibrated. */
int sur_cross_validate(sur_kind kind, const sur_data *data,
                       const sur_options *opt, sur_cv *out);

typedef struct sur_selection {
    sur_kind best;
    int rc[SUR_N_KINDS];    /* 0, or why that kind failed (CV or fit) */
    sur_cv cv[SUR_N_KINDS]; /* indexed by kind; valid where rc is 0 */
} sur_selection;

/*
 * Cross-validate every kind on the same folds, pick the best CV Kendall
 * tau (ties: lower RMSE, then the lower kind), refit it on all rows and
 * return it in *out.
 *
 * The ensemble is not cross-validated on its own: its held-out predictions
 * are the weighted mean of those of its members, the SUR_ENSEMBLE_MAX
 * other kinds of best CV tau, weighted in proportion to 1 / CV MSE (its
 * std: the mixture's, members' variances plus their disagreement). When
 * it wins, those members are refitted on all rows.
 *
 * Uncertainty calibration: for each kind, s = max(1, q95 / 2), q95 the
 * 95th percentile of |y - mean| / std over the held-out rows; the kind's
 * held-out std and CV coverages are those of std * s, and the refitted
 * model predicts std * s (sur_model_info.std_scale). A kind whose CV or refit fails is reported in sel->rc
 * and the next best is used; SUR_EFAILED when all fail. sel may be NULL.
 * Needs n >= 3.
 */
int sur_fit_best(const sur_data *data, const sur_options *opt,
                 sur_model **out, sur_selection *sel);

/*
 * sur_fit_best, also handing back the chosen kind's held-out predictions:
 * heldout_mean[i] and heldout_std[i] (n each, caller-owned; either may be
 * NULL) are row i's predictive mean and std from the model fitted on the
 * other folds, the numbers its CV figures were computed from. Written only
 * on success.
 */
int sur_fit_best_heldout(const sur_data *data, const sur_options *opt,
                         sur_model **out, sur_selection *sel,
                         double *heldout_mean, double *heldout_std);

/* --------------------------------------------------------- statistics */

/*
 * Kendall tau-b of x and y (n pairs), ties in either vector handled, in
 * O(n log n) (Knight's merge-sort algorithm). *tau is NaN when undefined
 * (n < 2, or x or y constant). SUR_EINVAL if a value is NaN.
 */
int sur_kendall_tau(const double *x, const double *y, size_t n, double *tau);

/* Spearman rho: Pearson correlation of the ranks, ties given their average
 * rank. NaN when undefined; SUR_EINVAL on a NaN value. */
int sur_spearman_rho(const double *x, const double *y, size_t n, double *rho);

/* z = one-sided standard normal quantile of confidence (gsl_cdf_ugaussian_
 * Pinv), e.g. 0.95 -> 1.645. SUR_EINVAL unless 0.5 < confidence < 1. */
int sur_confidence_z(double confidence, double *z);

/* ----------------------------------------------------------- screening */

typedef enum sur_goal { SUR_GOAL_MIN = 0, SUR_GOAL_MAX = 1 } sur_goal;

/* Cost `cost` (an index into the cost vectors) must not exceed max. */
typedef struct sur_constraint {
    size_t cost;
    double max;
} sur_constraint;

/*
 * One screening problem. Every point (candidate or observed) has a vector
 * of n_costs costs (all the costs that objectives and constraints name,
 * e.g. macs, params, latency on one device) and n_metrics metric values.
 * A cost may be only a LOWER BOUND (latency with missing LUT rows: the
 * known part); the *_lower flags say which (NULL: every cost is exact).
 *
 * Candidates carry predictions: mean and std per metric; a NaN mean means
 * "no prediction" (no model yet for that metric). The std to pass is
 * sur_predict's std (one new observation): the candidate is compared with
 * what its own real evaluation would measure, noise included. cand_mean
 * and cand_std may be NULL when there are no predictions at all.
 * cand_observed (may be NULL) flags candidates that already have an
 * observation of every metric at the fidelity. Observed points carry the
 * mean of their observations per metric (NaN: that metric was not observed
 * for that genome).
 *
 * Every metric is an objective with its goal; the cost objectives are the
 * costs listed in cost_objective with their goals (a cost may be in a
 * constraint and not an objective).
 */
typedef struct sur_screen_problem {
    size_t n_costs, n_metrics;
    size_t n_cost_objectives;
    const size_t *cost_objective;   /* indices < n_costs */
    const sur_goal *cost_goal;      /* one per cost objective */
    const sur_goal *metric_goal;    /* one per metric */
    size_t n_constraints;
    const sur_constraint *constraints;
    double z;                       /* >= 0; see sur_confidence_z */

    size_t n_candidates;
    const double *cand_cost;              /* n_candidates x n_costs */
    const unsigned char *cand_cost_lower; /* same shape, or NULL */
    const double *cand_mean;              /* n_candidates x n_metrics */
    const double *cand_std;               /* same shape; finite, >= 0 */
    const unsigned char *cand_observed;   /* n_candidates, or NULL */

    size_t n_observed;
    const double *obs_cost;               /* n_observed x n_costs */
    const unsigned char *obs_cost_lower;  /* same shape, or NULL */
    const double *obs_metric;             /* n_observed x n_metrics */
} sur_screen_problem;

typedef enum sur_reason {
    SUR_REASON_CONSTRAINT = 0,      /* pruned */
    SUR_REASON_ALREADY_OBSERVED = 1,/* pruned */
    SUR_REASON_DOMINATED = 2,       /* pruned */
    SUR_REASON_UNCERTAIN = 3,       /* kept */
    SUR_REASON_PROMISING = 4        /* kept */
} sur_reason;
#define SUR_N_REASONS 5

/* "constraint", "already_observed", "dominated", "uncertain", "promising";
 * NULL for anything else. */
const char *sur_reason_name(sur_reason reason);

typedef struct sur_verdict {
    int keep;
    sur_reason reason;
    long dominated_by; /* observed index for "dominated", else -1 */
    long constraint;   /* violated constraint index for "constraint", else -1 */
} sur_verdict;

/*
 * Screen every candidate into out[0 .. n_candidates-1], checking in order
 * (docs/api.md, POST /v1/spaces/{id}/screen):
 * 1. constraint (pruned): a cost exceeds its max. A lower-bound cost
 *    violates only if even the bound exceeds the max, which is the same
 *    test; the first violated constraint is named.
 * 2. already_observed (pruned): cand_observed is set.
 * 3. dominated (pruned): some observed point is no worse on every cost
 *    objective and its observed metric strictly beats the candidate's
 *    optimistic bound (mean + z std for max, mean - z std for min) on every
 *    metric. "No worse" needs a definite answer: an observed cost that is
 *    only a lower bound cannot be no worse for a min goal, a candidate cost
 *    that is only a lower bound cannot be beaten for a max goal. The lowest
 *    such observed index is named. With no metrics at all, the observed
 *    point must also be strictly better on some cost objective. A candidate
 *    with a metric that has no prediction is never dominated.
 * 4. uncertain (kept): a metric has no prediction (no model yet), or some
 *    observed point would dominate the predicted mean alone (z = 0) but not
 *    the optimistic bound.
 * 5. promising (kept): everything else.
 * Cost O(n_candidates * n_observed * (n_costs + n_metrics)). SUR_EINVAL on
 * a bad index, goal, NaN cost or max, negative or non-finite z or std.
 */
int sur_screen(const sur_screen_problem *p, sur_verdict *out);

/* ------------------------------------------------- batch predictions */

/*
 * sur_predict for a batch whose rows do not depend on each other: each
 * row's mean and stds are the same, bit for bit, whatever the other rows
 * of the batch and its place among them, so one genome predicts alike in
 * every answer. (sur_predict's rows may differ in their last bits with
 * their place.) Same arguments and codes as sur_predict.
 */
int sur_predict_batch(const sur_model *model, const double *x, size_t n,
                      double *mean, double *std, double *std_latent);

#ifdef __cplusplus
}
#endif
#endif
