-- My tasks and the switcher's counts (store/tasks.go, ListMyTasks and
-- CountMyTasks): one user's open tasks, by due date, read for every
-- workspace of the user. Without these, each read went through every open
-- task of the workspace (41 ms to list, 20 ms to count among 20,000
-- tasks; BenchmarkMyTasks). Not partial indexes: the planner, without
-- statistics, preferred tasks_open (done) to them. (Reserved number: 0017
-- at merge; numbered 0015 on its branch, where 0015 and 0016 do not exist.)
-- IF NOT EXISTS: TestMigration_LinksOldAuditEventsToContacts winds a file
-- back to version 1 without dropping indexes of old tables, then migrates.
CREATE INDEX IF NOT EXISTS tasks_assignee ON tasks (assignee_id, done, due_date);
CREATE INDEX IF NOT EXISTS tasks_creator ON tasks (created_by, assignee_id, done, due_date);
