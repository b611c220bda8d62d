/*
 * fuzz_genome.c — genomes (an array of choice indices or an object gene
 * name → value) against the built-in spaces and a categorical one.
 *
 * Input: byte 0 picks the space; the rest is a JSON genome. A genome that
 * parses is written back in both forms, which must parse to the same
 * genome, and expanded to its layer keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_server.h"
#include "spaces.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int genome[LUT_SPACE_MAX_GENES], back[LUT_SPACE_MAX_GENES];

static void round_trip(const lut_space *sp, json_t *form)
{
    lut_error err = {.row = -1};
    if (!form || fm_genome_from_json(sp, form, back, &err) ||
        memcmp(genome, back, lut_space_gene_count(sp) * sizeof *genome) != 0)
        abort();
    json_decref(form);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *const *builtin;
    size_t nb = fz_builtin_ids(&builtin);
    size_t pick = data[0] % (nb + 1);
    if (pick == nb)
        fz_make_space();
    fm_space *s = fm_spaces_get(&fz_server()->spaces, pick == nb ? FZ_SPACE : builtin[pick]);
    json_t *v = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    lut_error err = {.row = -1};
    if (s && v && fm_genome_from_json(s->space, v, genome, &err) == 0) {
        round_trip(s->space, fm_genome_json(s->space, genome));
        round_trip(s->space, fm_genome_named_json(s->space, genome));
        lut_space_layer *layers = NULL;
        if (s->builtin && lut_space_expand(s->space, genome, &layers, NULL, &err))
            abort(); /* every genome that parses expands */
        free(layers);
    }
    json_decref(v);
    if (s)
        fm_spaces_release(s);
    if (pick == nb)
        fz_reset();
    return 0;
}
