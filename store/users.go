package store

import (
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// PasswordCost is bcrypt's work factor for new password hashes. Tests
// lower it: under the race detector one hash at the default cost takes
// most of a second.
var PasswordCost = bcrypt.DefaultCost

// User is an instance account; one login across workspaces.
type User struct {
	ID           string    `db:"id" json:"id"`
	Email        string    `db:"email" json:"email"`
	Name         string    `db:"name" json:"name"`
	PasswordHash string    `db:"password_hash" json:"-"`
	Superadmin   bool      `db:"superadmin" json:"superadmin"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
	// EmailVerified says the account has proven its address; see the
	// catalog migration that adds it.
	EmailVerified bool `db:"email_verified" json:"email_verified"`
	// DateFormat (a key of DateFormats), TimeZone (an IANA name) and Clock
	// ("24h" or "12h") are how the user has dates shown (see preferences.go).
	DateFormat string `db:"date_format" json:"date_format"`
	TimeZone   string `db:"time_zone" json:"time_zone"`
	Clock      string `db:"clock" json:"clock"`
}

// NewUser is what it takes to create a user.
type NewUser struct {
	Email      string
	Name       string
	Password   string
	Superadmin bool
	// Verified says the address is proven: an operator typed it, or the
	// user holds an invitation addressed to it.
	Verified bool
}

// NormalizeEmail trims an address and checks it is one plain address.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if email == "" || err != nil || addr.Address != email || len(email) > maxEmailAddress {
		return "", FieldError("email", "%q is not a valid email address.", email)
	}
	return email, nil
}

// CreateUser validates and inserts a user with a bcrypt hash of the password.
func CreateUser(ctx context.Context, db *Catalog, nu NewUser) (*User, error) {
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	if err := ValidatePassword(nu.Password); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(nu.Password), PasswordCost)
	if err != nil {
		return nil, err
	}
	u := &User{
		ID:            uuid.Must(uuid.NewV7()).String(),
		Email:         email,
		Name:          strings.TrimSpace(nu.Name),
		PasswordHash:  string(hash),
		Superadmin:    nu.Superadmin,
		CreatedAt:     time.Now().UTC(),
		EmailVerified: nu.Verified,
		DateFormat:    DefaultDateFormat,
		TimeZone:      "UTC",
		Clock:         Clock24h,
	}
	_, err = db.W.NamedExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, superadmin, created_at, email_verified, date_format, time_zone, clock)
		VALUES (:id, :email, :name, :password_hash, :superadmin, :created_at, :email_verified, :date_format, :time_zone, :clock)`, u)
	if isUniqueViolation(err) {
		return nil, &Error{Code: EConflict, Field: "email", Message: "A user with the email " + email + " already exists."}
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UserByEmail finds a user by email in any letter case.
func UserByEmail(ctx context.Context, q sqlx.QueryerContext, email string) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, `SELECT * FROM users WHERE email = ?`, strings.TrimSpace(email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "No user has the email %s.", email)
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// dummyHash is compared against when the email is unknown, so an unknown
// email and a wrong password take the same time. It is made on first use,
// at the cost in force then.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("atrium-dummy-password"), PasswordCost)
	return h
})

// ErrBadCredentials is the one answer to a failed sign-in, whatever failed.
var ErrBadCredentials = Errorf(EUnauthorized, "The email or password is not right.")

// Authenticate returns the user with this email and password.
func Authenticate(ctx context.Context, db *Catalog, email, password string) (*User, error) {
	u, err := UserByEmail(ctx, db.R, email)
	if ErrorCode(err) == ENotFound {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return nil, ErrBadCredentials
	}
	return u, nil
}

// UserByID returns a user.
func UserByID(ctx context.Context, q sqlx.QueryerContext, id string) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, `SELECT * FROM users WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "No such user.")
	}
	return &u, err
}

// CountUsers returns how many users exist; zero means first run.
func CountUsers(ctx context.Context, q sqlx.QueryerContext) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM users`)
	return n, err
}

// ValidatePassword checks a new password's length.
func ValidatePassword(password string) error {
	switch {
	case len(password) < MinPasswordLength:
		return FieldError("password", "The password must be at least %d characters long.", MinPasswordLength)
	case len(password) > 72:
		return FieldError("password", "The password must be at most 72 bytes long.")
	}
	return nil
}

// SetPassword replaces a user's password.
func SetPassword(ctx context.Context, db *Catalog, userID, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, string(hash), userID); err != nil {
			return err
		}
		return endResetLinks(ctx, tx, userID)
	})
}

// endResetLinks marks a user's reset links used: a link sent before the
// password changed must not change it again.
func endResetLinks(ctx context.Context, tx *sqlx.Tx, userID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`, time.Now().UTC(), userID)
	return err
}

// ResetPassword replaces the password of the user with this email and ends
// every session of theirs, in one transaction: the reset and the
// revocation take effect together. It returns the user and how many
// sessions ended.
func ResetPassword(ctx context.Context, db *Catalog, email, password string) (*User, int64, error) {
	hash, err := passwordHash(password)
	if err != nil {
		return nil, 0, err
	}
	u, err := UserByEmail(ctx, db.W, email)
	if err != nil {
		return nil, 0, err
	}
	var ended int64
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		ended, err = replacePasswordTx(ctx, tx, u.ID, hash)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return u, ended, nil
}

// passwordHash validates a new password and returns its bcrypt hash.
func passwordHash(password string) (string, error) {
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	return string(hash), err
}

// replacePasswordTx sets a user's password hash and ends every session of
// theirs; it returns how many sessions ended. Every path that resets a
// password (the command, a reset link) goes through it.
func replacePasswordTx(ctx context.Context, tx *sqlx.Tx, userID, hash string) (int64, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID); err != nil {
		return 0, err
	}
	if err := endResetLinks(ctx, tx, userID); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ClaimAddress takes email away from an account that only claimed it (made
// through an open invitation link), for someone who has just proven it by
// holding an invitation addressed to it. That account keeps its
// memberships under a placeholder address nobody can sign in with, and its
// sessions end. It reports whether an account lost the address; a
// verified account keeps it.
func ClaimAddress(ctx context.Context, db *Catalog, email string) (bool, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return false, err
	}
	var claimed bool
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		var id string
		err := tx.GetContext(ctx, &id, `SELECT id FROM users WHERE email = ? AND NOT email_verified`, email)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET email = 'unverified-' || id || '@invalid' WHERE id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id)
		claimed = err == nil
		return err
	})
	return claimed, err
}
