/* SPDX-License-Identifier: MIT
 * ctl-json.h - mailmeshctl's JSON helpers (ctl-json.c). */
#ifndef CTL_JSON_H
#define CTL_JSON_H
#include <jansson.h>

/* Sets key to s in o. JSON strings are UTF-8: a name with other bytes
   (Maildir allows them) is given with U+FFFD for each bad byte, and
   exactly, in hex, as key_hex. */
void ctl_json_set_str(json_t *o, const char *key, const char *s);

#endif
