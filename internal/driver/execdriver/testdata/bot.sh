#!/bin/sh
# A fake bot control script for the exec driver tests. State lives in
# $STATE_DIR; every call is logged (never the secret itself, only its length).
set -eu
state="$STATE_DIR/state"
[ -f "$state" ] || echo stopped > "$state"
echo "op=$BOTWARDEN_OP mode=$BOTWARDEN_MODE bot=$BOTWARDEN_BOT cmd=$BOTWARDEN_COMMAND_ID trace=$BOTWARDEN_TRACE_ID run=$BOTWARDEN_RUN_ID cfg=$BOTWARDEN_CONFIG_REF argv=$* key_len=${#EXCHANGE_KEY} slack=${SLACK_BOT_TOKEN:-unset}" >> "$STATE_DIR/calls.log"
read -r phase mode < "$state" || true
case "$BOTWARDEN_OP" in
start)
	[ "$phase" = running ] && { echo "already running" >&2; exit 1; }
	echo "running $BOTWARDEN_MODE" > "$state" ;;
stop)
	echo stopped > "$state" ;;
pause)
	[ "$phase" = running ] || { echo "not running" >&2; exit 1; }
	echo "paused $mode" > "$state" ;;
resume)
	[ "$phase" = paused ] || { echo "not paused" >&2; exit 1; }
	echo "running $BOTWARDEN_MODE" > "$state" ;;
config_apply)
	echo "$BOTWARDEN_CONFIG_REF" > "$STATE_DIR/config" ;;
status)
	case "$phase" in
	running) printf '{"alive":true,"paused":false,"mode":"%s","detail":"trading"}\n' "$mode" ;;
	paused) printf '{"alive":true,"paused":true,"mode":"%s"}\n' "$mode" ;;
	dead) echo "pid file left behind" >&2; exit 1 ;;
	*) exit 3 ;;
	esac ;;
*)
	echo "unknown op $BOTWARDEN_OP" >&2; exit 2 ;;
esac
