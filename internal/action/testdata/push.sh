#!/bin/sh
# A fake execution-layer hook: logs what it was asked (never a secret value,
# only its length) to $LOG, fails when asked to.
echo "op=$BOTWARDEN_OP target=$BOTWARDEN_TARGET level=$BOTWARDEN_LEVEL gate=$BOTWARDEN_GATE duration=$BOTWARDEN_DURATION secret_ref=$BOTWARDEN_SECRET_REF data=$BOTWARDEN_DATA_ACTION cmd=$BOTWARDEN_COMMAND_ID trace=$BOTWARDEN_TRACE_ID actor=$BOTWARDEN_ACTOR token_len=${#EXEC_TOKEN}" >> "$LOG"
[ "$BOTWARDEN_TARGET" = "fail-me" ] && { echo "execution layer said no, token=$EXEC_TOKEN" >&2; exit 4; }
exit 0
