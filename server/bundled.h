/*
 * bundled.h — load the bundled tables of cfg.tables_dir (NAME.device.json
 * with its fields, NAME.csv with its rows) once per data directory: a
 * marker file in the data directory records that it was done, and a device
 * the user already has is never overwritten.
 */
#ifndef FMAS_SERVER_BUNDLED_H
#define FMAS_SERVER_BUNDLED_H

#include "server.h"

/* 0, or -1 when some table did not load (each failure is logged). */
int fm_bundled_load(fm_server *srv);

#endif
