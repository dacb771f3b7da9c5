-- The administrators, found without reading every user: notices to
-- administrators (admin/notices.rs) are appended in the transaction of a
-- decision, under the write turn. A role is a registered value, stored as
-- a JSON array of strings; `"admin"` with its quotes appears only for it.
CREATE INDEX users_admins ON users (sub) WHERE roles LIKE '%"admin"%';
