-- Issue 16: the API an access token is for (`audience` at /bc-authorize,
-- else the server's default; NULL: the issuer), and the scope descriptions
-- the approvers were sent (a JSON object from scope to description, fixed
-- when the request is made: what the approval statement covers). Requests
-- made before have no audience and no descriptions (their scopes are shown
-- as unknown).
ALTER TABLE auth_requests ADD COLUMN audience TEXT;
ALTER TABLE auth_requests ADD COLUMN scope_descriptions TEXT NOT NULL DEFAULT '{}';
