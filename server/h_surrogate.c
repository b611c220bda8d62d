/*
 * h_surrogate.c — the surrogate of a space's metric: its state, and refits
 * on demand.
 */
#include "h_surrogate.h"

#include <stdio.h>
#include <string.h>

#include "fitter.h"
#include "models.h"
#include "observations.h"
#include "params.h"
#include "server.h"
#include "spaces.h"

/* metric and fidelity of a surrogate request; answers and returns -1. */
static int surrogate_params(fm_request *rq, fm_response *rs, fm_space *s, char *metric, char *fidelity)
{
    const char *m = fm_query(rq, "metric"), *f;
    if (!m || !fm_metric_name_valid(m)) {
        fm_problem(rs, 400, "invalid-parameter",
                   fm_err_param(NULL, "metric", m ? "must be [a-z0-9_]{1,64}" : "is required"),
                   "metric is required: ?metric=miou");
        return -1;
    }
    if (fm_fidelity_param(rq, rs, &f))
        return -1;
    snprintf(metric, FM_NAME_MAX, "%s", m);
    if (f)
        snprintf(fidelity, FM_NAME_MAX, "%s", f);
    else if (fm_obs_busiest_fidelity(s->obs, m, fidelity, FM_NAME_MAX)) {
        fm_problem(rs, 404, "not-found", fm_err_param(NULL, "metric", "the space has no observation of it"),
                   "space \"%s\" has no observation of metric %s", lut_space_id(s->space), m);
        return -1;
    }
    /* Some observation of the pair must exist. */
    if (fm_obs_count(s->obs, metric, fidelity) == 0) {
        fm_problem(rs, 404, "not-found",
                   fm_err_param(NULL, f ? "fidelity" : "metric", "no observation has this metric and fidelity"),
                   "space \"%s\" has no observation of %s at fidelity %s", lut_space_id(s->space), metric, fidelity);
        return -1;
    }
    return 0;
}

void h_surrogate_get(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    char metric[FM_NAME_MAX], fidelity[FM_NAME_MAX];
    int heldout;
    if (fm_bool_param(rq, rs, "heldout", 0, &heldout) == 0 && surrogate_params(rq, rs, s, metric, fidelity) == 0) {
        fm_model *m = fm_models_get(s->models, metric, fidelity);
        if (!m && fm_fitter_fit_wait(rq->srv->fitter, s, metric, fidelity, &m))
            m = NULL;
        json_t *body = m ? fm_model_json(m, lut_space_id(s->space), fm_fitter_min_observations(rq->srv->fitter)) : NULL;
        if (body && heldout)
            json_object_set_new(body, "heldout", fm_model_heldout_json(m));
        if (m)
            fm_respond_json(rs, 200, body);
        else
            fm_problem(rs, 503, "unavailable", NULL, "the surrogate could not be fitted now");
        fm_model_release(m);
    }
    fm_spaces_release(s);
}

void h_surrogate_fit(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    char metric[FM_NAME_MAX], fidelity[FM_NAME_MAX];
    if (surrogate_params(rq, rs, s, metric, fidelity) == 0) {
        fm_model *m = NULL;
        if (fm_fitter_fit_wait(rq->srv->fitter, s, metric, fidelity, &m) == 0 && m)
            fm_respond_json(rs, 200, fm_model_json(m, lut_space_id(s->space), fm_fitter_min_observations(rq->srv->fitter)));
        else
            fm_problem(rs, 503, "unavailable", NULL, "the service is stopping or out of memory");
        fm_model_release(m);
    }
    fm_spaces_release(s);
}
