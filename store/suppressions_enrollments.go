package store

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// StopEnrollmentsOf stops, in the caller's transaction, every running
// enrolment of the workspace whose contact's address is email, recording
// reason ("unsubscribed", "bounced") as why. AddSuppression and
// Unsubscribe call it in the transaction that suppresses the address, so
// the two happen together (also when the address was on the list already:
// an enrolment made meanwhile is stopped).
func StopEnrollmentsOf(ctx context.Context, tx *sqlx.Tx, email, reason string) error {
	_, err := tx.ExecContext(ctx, `UPDATE enrollments SET state = 'stopped', stop_reason = ?, updated_at = ?
		WHERE state IN ('active', 'paused') AND contact_id IN (SELECT id FROM contacts WHERE lower(email) = lower(?) AND email <> '')`,
		reason, time.Now().UTC(), strings.TrimSpace(email))
	return err
}
