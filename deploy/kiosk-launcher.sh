#!/bin/sh
# Chromium in kiosk mode on the agent's local page, started from the kiosk user's graphical session (docs/agent.md).
# Restarts the browser whenever it exits or crashes; waits for the agent's local server first.
# Browser watchdog (docs/agent.md): the kiosk page posts a heartbeat to the agent; once KIOSK_WATCHDOG_GRACE_S have
# passed since a launch, the launcher asks the agent every KIOSK_WATCHDOG_POLL_S (GET /local/watchdog). A 503 (no
# heartbeat for too long: a hung page, a crashed tab, an error page) stops Chromium (TERM, KILL after 10 s) and starts
# it again. The agent knows, the launcher restarts: the agent is a sandboxed system service and cannot start a browser
# in this session. An agent that does not answer is left to systemd: restarting the browser would not help.
# Settings (environment): KIOSK_URL, CHROMIUM, KIOSK_PROFILE, KIOSK_CHROMIUM_FLAGS (extra flags, e.g. --headless in
# tests), KIOSK_WATCHDOG_GRACE_S (default 90), KIOSK_WATCHDOG_POLL_S (default 10; 0 = no watchdog);
# KIOSK_MAX_LAUNCHES bounds the loop (tests only).
set -u

URL="${KIOSK_URL:-http://127.0.0.1:8090/}"
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)}"
PROFILE="${KIOSK_PROFILE:-${HOME:-/tmp}/.cache/kiosk-chromium}"
MAX="${KIOSK_MAX_LAUNCHES:-0}"
EXTRA_FLAGS="${KIOSK_CHROMIUM_FLAGS:-}"
GRACE="${KIOSK_WATCHDOG_GRACE_S:-90}"
POLL="${KIOSK_WATCHDOG_POLL_S:-10}"
# scheme://host:port of the page, whatever path or query KIOSK_URL has.
ORIGIN=$(printf '%s\n' "$URL" | sed 's#^\([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*\).*#\1#')

agent_up() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "$ORIGIN/local/manifest"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O /dev/null -T 2 "$ORIGIN/local/manifest"
  else
    return 0
  fi
}

# True only when the agent answers 503: no heartbeat from the page for too long. No answer, or any other status
# (an older agent without a watchdog: 404), is not a reason to restart.
page_stale() {
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$ORIGIN/local/watchdog")" = 503 ]
  elif command -v wget >/dev/null 2>&1; then
    wget -S -q -O /dev/null -T 3 "$ORIGIN/local/watchdog" 2>&1 | grep -q '^ *HTTP/[0-9.]* 503'
  else
    return 1
  fi
}

# Stops the browser's whole process group (browser, zygote, renderers, GPU).
stop_browser() {
  kill -TERM "-$1" 2>/dev/null || return 0
  waited=0
  while kill -0 "-$1" 2>/dev/null && [ "$waited" -lt 10 ]; do
    sleep 1
    waited=$((waited + 1))
  done
  kill -KILL "-$1" 2>/dev/null
  return 0
}

# Sleeps up to $1 seconds in 1-s steps while process $2 lives; false as soon as it is gone.
nap_while_alive() {
  left=$1
  while [ "$left" -gt 0 ]; do
    kill -0 "$2" 2>/dev/null || return 1
    # In the background, so a TERM ends the wait at once (a foreground sleep would finish first).
    sleep 1 &
    wait $!
    left=$((left - 1))
  done
  kill -0 "$2" 2>/dev/null
}

# Runs in a subshell beside the browser and ends within a second of it, on its own: the launcher's TERM can be lost
# when it arrives before the new subshell has set its trap (dash drops a signal caught by the handler it inherited),
# and the launcher then waits for the watcher before it starts the browser again.
watch_browser() {
  [ "$POLL" -gt 0 ] || exit 0
  trap 'exit 0' TERM
  nap_while_alive "$GRACE" "$1" || exit 0
  while :; do
    if page_stale; then
      echo "kiosk-launcher: no heartbeat from the kiosk page; restarting chromium" >&2
      stop_browser "$1"
      exit 0
    fi
    nap_while_alive "$POLL" "$1" || exit 0
  done
}

pid=""
watcher=""
trap 'if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null; fi; if [ -n "$pid" ]; then stop_browser "$pid"; fi; exit 0' TERM INT HUP

launches=0
while :; do
  tries=0
  until agent_up || [ "$tries" -ge 30 ]; do
    tries=$((tries + 1))
    sleep 2
  done
  mkdir -p "$PROFILE/Default"
  # After a crash or power cut Chromium offers to "restore pages": mark the last exit clean so it never asks.
  if [ -f "$PROFILE/Default/Preferences" ]; then
    sed -i 's/"exited_cleanly":false/"exited_cleanly":true/; s/"exit_type":"[A-Za-z]*"/"exit_type":"Normal"/' \
      "$PROFILE/Default/Preferences"
  fi
  # setsid: the browser leads a process group of its own, so the watchdog can stop all of it.
  # shellcheck disable=SC2086 # EXTRA_FLAGS is a list of flags
  setsid "$CHROMIUM" \
    --kiosk "$URL" \
    --user-data-dir="$PROFILE" \
    --no-first-run \
    --no-default-browser-check \
    --noerrdialogs \
    --disable-infobars \
    --disable-session-crashed-bubble \
    --disable-translate \
    --disable-features=Translate,TranslateUI,OverscrollHistoryNavigation \
    --disable-pinch \
    --overscroll-history-navigation=0 \
    --disable-background-networking \
    --disable-component-update \
    --disable-sync \
    --check-for-update-interval=31536000 \
    --autoplay-policy=no-user-gesture-required \
    --password-store=basic \
    --lang=vi \
    $EXTRA_FLAGS &
  pid=$!
  watch_browser "$pid" &
  watcher=$!
  wait "$pid"
  status=$?
  kill "$watcher" 2>/dev/null
  wait "$watcher" 2>/dev/null
  # Whatever the browser left behind (renderers of a killed browser) goes with it.
  kill -KILL "-$pid" 2>/dev/null
  pid=""
  watcher=""
  launches=$((launches + 1))
  echo "kiosk-launcher: chromium exited with status $status; restarting" >&2
  if [ "$MAX" -gt 0 ] && [ "$launches" -ge "$MAX" ]; then
    exit 0
  fi
  sleep 2
done
