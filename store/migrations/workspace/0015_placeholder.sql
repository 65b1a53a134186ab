-- Placeholder on branch h-search only: 0015 is reserved for another
-- branch, and migrations must be numbered without gaps for 0016 to run.
-- Drop this file when merging that branch's 0015.
SELECT 1;
