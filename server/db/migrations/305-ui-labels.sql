-- Kiosk interface labels the department enters for languages nobody on the team writes (jra, bdq, sed, jeh, brb).
-- One row per language; `labels` is a JSON object of kiosk-ui label keys (protocol/ui-labels.ts) to text. They
-- travel to kiosks in the signed manifest (`uiLabels`, DESIGN §7).
CREATE TABLE ui_labels (
  lang TEXT PRIMARY KEY,
  labels TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL
) WITHOUT ROWID;
