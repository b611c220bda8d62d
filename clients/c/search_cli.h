/*
 * search_cli.h — the command line of fmas-search: options read with
 * getopt_long into the configuration part of a search (see fmas-search
 * --help for the options and their defaults).
 */
#ifndef FMAS_SEARCH_CLI_H
#define FMAS_SEARCH_CLI_H

#include "search.h"

/*
 * Fill s's configuration from argv: defaults, the options, then the
 * settings that depend on others (--pool, --budget and --init from --pop,
 * the evaluator's argv with --launcher before it), and retry with the
 * --server-* settings. Returns 0 to search, or 1 when --help printed the
 * usage on stdout (the process should exit 0). A bad command line ends the
 * process (exit 2) with a message that names the option.
 */
int search_cli_parse(search *s, fc_retry *retry, int argc, char **argv);

#endif
