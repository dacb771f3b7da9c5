-- Countersign approver store, version 2.
--
-- The display_schemas of the rendering last shown for a pending request
-- (JSON object type -> schema hash, as in the approval statement). An
-- approval is refused while the current rendering uses other schemas than
-- the one shown: the user must see the request again first.
ALTER TABLE inbox ADD COLUMN shown_schemas TEXT;
