#!/bin/sh
# Chromium in kiosk mode on the agent's local page, started from the kiosk user's graphical session (docs/agent.md).
# Restarts the browser whenever it exits or crashes; waits for the agent's local server first.
# Settings (environment): KIOSK_URL, CHROMIUM, KIOSK_PROFILE; KIOSK_MAX_LAUNCHES bounds the loop (tests only).
set -u

URL="${KIOSK_URL:-http://127.0.0.1:8090/}"
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)}"
PROFILE="${KIOSK_PROFILE:-${HOME:-/tmp}/.cache/kiosk-chromium}"
MAX="${KIOSK_MAX_LAUNCHES:-0}"

agent_up() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "${URL%/}/local/manifest"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O /dev/null -T 2 "${URL%/}/local/manifest"
  else
    return 0
  fi
}

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
  "$CHROMIUM" \
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
    --lang=vi
  status=$?
  launches=$((launches + 1))
  echo "kiosk-launcher: chromium exited with status $status; restarting" >&2
  if [ "$MAX" -gt 0 ] && [ "$launches" -ge "$MAX" ]; then
    exit 0
  fi
  sleep 2
done
