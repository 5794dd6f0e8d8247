/* vg_router_internal.h: what vg_router_query.c needs of the router. */
#ifndef VG_ROUTER_INTERNAL_H
#define VG_ROUTER_INTERNAL_H

#include "vg_router.h"
#include "vg_transport.h"

vg_transport_t *vg__router_transport(vg_router_t *r);
uint32_t vg__router_self(vg_router_t *r);

/* Refreshes the map, then lists the members that hold (or may hold)
 * stored anomalies: every member not down or removed, at most cap;
 * *skipped counts the down ones. */
size_t vg__router_holders(vg_router_t *r, uint32_t *ids, size_t cap, size_t *skipped);

#endif
