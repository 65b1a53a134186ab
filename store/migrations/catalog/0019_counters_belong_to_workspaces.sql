-- Every row of the counters' tables belongs to a workspace row: a push for
-- a workspace the catalog does not hold is dropped, and a workspace row's
-- deletion (a failed creation) takes its counters along. The portfolio's
-- totals over the whole instance rely on it (store/portfolio.go): they
-- scan these tables and skip the few workspaces that are not live, instead
-- of joining every live workspace to its counters by its text key.
DELETE FROM workspace_rollups WHERE workspace_id NOT IN (SELECT id FROM workspaces);
DELETE FROM workspace_rollup_money WHERE workspace_id NOT IN (SELECT id FROM workspaces);

CREATE TRIGGER workspace_rollups_known BEFORE INSERT ON workspace_rollups
WHEN NOT EXISTS (SELECT 1 FROM workspaces WHERE id = NEW.workspace_id) BEGIN
	SELECT RAISE(IGNORE);
END;
CREATE TRIGGER workspace_rollup_money_known BEFORE INSERT ON workspace_rollup_money
WHEN NOT EXISTS (SELECT 1 FROM workspaces WHERE id = NEW.workspace_id) BEGIN
	SELECT RAISE(IGNORE);
END;
CREATE TRIGGER workspace_counters_gone AFTER DELETE ON workspaces BEGIN
	DELETE FROM workspace_rollups WHERE workspace_id = OLD.id;
	DELETE FROM workspace_rollup_money WHERE workspace_id = OLD.id;
END;
