#!/bin/sh
# Prints a lot to stderr (one pipe, so the order is fixed), including
# credentials, then fails with exit 7.
echo "starting"
i=0
while [ $i -lt 400 ]; do
	echo "noise line $i" >&2
	i=$((i + 1))
done
echo "connecting with key $EXCHANGE_KEY" >&2
echo "db password=hunter2 retry" >&2
echo "Authorization: Bearer abcdefghijklmnop" >&2
echo "giving up" >&2
exit 7
