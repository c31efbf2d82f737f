-- 0009_merged_action: an event absorbed into a wider one leaves with its own action and
-- status, 'merged' (its evidence names the wider event), instead of 'retracted', which tells
-- subscribers "not a shutdown". Rows already stored keep what they said.

ALTER TABLE events DROP CONSTRAINT events_status_check;
ALTER TABLE events ADD CONSTRAINT events_status_check
    CHECK (status IN ('suspected', 'confirmed', 'resolved', 'retracted', 'merged'));

ALTER TABLE event_transitions DROP CONSTRAINT event_transitions_action_check;
ALTER TABLE event_transitions ADD CONSTRAINT event_transitions_action_check
    CHECK (action IN ('opened', 'updated', 'resolved', 'retracted', 'merged'));
