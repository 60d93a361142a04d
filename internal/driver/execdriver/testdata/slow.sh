#!/bin/sh
# Never finishes in time; leaves a child holding stdout, as daemons do.
sleep 30 &
echo "started child"
sleep 30
