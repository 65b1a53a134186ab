-- email_verified: the account has proven its address: an operator created
-- it (atrium user create, the first set-up), or it came in through an
-- invitation addressed to that address. An account made through an open
-- invitation link has only claimed its address (0): it cannot keep it from
-- someone who proves it (see store.ClaimAddress). Accounts from before this
-- migration are taken as verified.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 1 CHECK (email_verified IN (0, 1));
