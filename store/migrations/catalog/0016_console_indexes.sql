-- The console reads every live workspace's owner, member count and state
-- (store/console.go, store/portfolio.go): these indexes answer those from
-- the index alone, one B-tree search per workspace instead of two.
CREATE INDEX memberships_workspace_role ON memberships (workspace_id, role, created_at, user_id);
DROP INDEX memberships_workspace;
CREATE INDEX workspaces_id_state ON workspaces (id, state);
