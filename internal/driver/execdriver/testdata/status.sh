#!/bin/sh
# Prints $STATUS_OUT and exits $STATUS_EXIT.
printf '%s' "$STATUS_OUT"
exit "$STATUS_EXIT"
