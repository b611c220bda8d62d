/*
 * params.c — shared path and query parameters (see params.h).
 */
#include "params.h"

#include <string.h>

#include "observations.h"
#include "server.h"

fm_space *fm_space_param(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_spaces_get(&rq->srv->spaces, rq->params[0]);
    if (!s)
        fm_problem(rs, 404, "not-found", fm_err_param(NULL, "id", "no space has this id"),
                   "space \"%.80s\" not found", rq->params[0]);
    return s;
}

int fm_fidelity_param(fm_request *rq, fm_response *rs, const char **out)
{
    const char *f = fm_query(rq, "fidelity");
    *out = f;
    if (f && !fm_fidelity_name_valid(f)) {
        fm_problem(rs, 400, "invalid-parameter", fm_err_param(NULL, "fidelity", "must be [a-z0-9._-]{1,64}"),
                   "fidelity \"%.80s\" is not a fidelity name", f);
        return -1;
    }
    return 0;
}

int fm_bool_param(fm_request *rq, fm_response *rs, const char *name, int dflt, int *out)
{
    const char *v = fm_query(rq, name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!strcmp(v, "true") || !strcmp(v, "false")) {
        *out = v[0] == 't';
        return 0;
    }
    fm_problem(rs, 400, "invalid-parameter", fm_err_param(NULL, name, "must be true or false"),
               "%s must be true or false", name);
    return -1;
}

const char *fm_device_param(fm_request *rq, fm_response *rs)
{
    const char *name = rq->params[0];
    if (!lut_device_name_valid(name)) {
        fm_problem(rs, 400, "invalid-parameter",
                   fm_err_param(NULL, "name", "device names are 1 to 64 characters of [a-z0-9._-]"),
                   "\"%.80s\" is not a valid device name", name);
        return NULL;
    }
    return name;
}
