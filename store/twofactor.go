package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Two-factor sign-in: a TOTP secret per user (RFC 6238: SHA-1, six digits,
// thirty-second steps, what every authenticator app reads), confirmed with
// a code before it is on, and ten one-time recovery codes.
const (
	totpPeriod        = 30
	totpIssuer        = "Atrium"
	RecoveryCodeCount = 10
	// settingRequire2FA is the instance setting by which a superadmin
	// makes two-factor sign-in compulsory for every user.
	settingRequire2FA = "require_2fa"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TwoFactor is a user's TOTP set-up; EnabledAt is nil until confirmed.
type TwoFactor struct {
	UserID    string     `db:"user_id"`
	Secret    string     `db:"secret"`
	CreatedAt time.Time  `db:"created_at"`
	EnabledAt *time.Time `db:"enabled_at"`
	LastStep  int64      `db:"last_step"`
}

// Key is the secret as an authenticator app reads it (its otpauth URI,
// its QR code) for the account email.
func (tf *TwoFactor) Key(email string) (*otp.Key, error) {
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + totpIssuer + ":" + email}
	q := url.Values{}
	q.Set("secret", tf.Secret)
	q.Set("issuer", totpIssuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", "6")
	q.Set("period", "30")
	u.RawQuery = q.Encode()
	return otp.NewKeyFromURL(u.String())
}

// GetTwoFactor returns a user's set-up, enabled or not, or ENotFound.
func GetTwoFactor(ctx context.Context, q sqlx.QueryerContext, userID string) (*TwoFactor, error) {
	var tf TwoFactor
	err := sqlx.GetContext(ctx, q, &tf, `SELECT user_id, secret, created_at, enabled_at, last_step FROM user_totp WHERE user_id = ?`, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "Two-factor sign-in is not set up.")
	}
	if err != nil {
		return nil, err
	}
	return &tf, nil
}

// TwoFactorEnabled says whether a user signs in with a second factor.
func TwoFactorEnabled(ctx context.Context, q sqlx.QueryerContext, userID string) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM user_totp WHERE user_id = ? AND enabled_at IS NOT NULL`, userID)
	return n > 0, err
}

// BeginTwoFactor returns the pending set-up of a user, making a new secret
// the first time: showing the page again shows the same secret, so a code
// from an app that scanned it earlier still confirms. It refuses a user
// whose two-factor sign-in is already on.
func BeginTwoFactor(ctx context.Context, db *Catalog, userID string) (*TwoFactor, error) {
	tf, err := GetTwoFactor(ctx, db.W, userID)
	switch {
	case err == nil && tf.EnabledAt != nil:
		return nil, Errorf(EConflict, "Two-factor sign-in is already on.")
	case err == nil:
		return tf, nil
	case ErrorCode(err) != ENotFound:
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: userID, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, err
	}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO user_totp (user_id, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
		userID, key.Secret(), time.Now().UTC()); err != nil {
		return nil, err
	}
	return GetTwoFactor(ctx, db.W, userID)
}

// EnableTwoFactor turns two-factor sign-in on once code proves the user's
// app holds the pending secret, and returns the new recovery codes: the
// only time they are seen in clear.
func EnableTwoFactor(ctx context.Context, db *Catalog, userID, code string, now time.Time) ([]string, error) {
	tf, err := GetTwoFactor(ctx, db.W, userID)
	if err != nil {
		return nil, err
	}
	if tf.EnabledAt != nil {
		return nil, Errorf(EConflict, "Two-factor sign-in is already on.")
	}
	code, ok := normalTOTP(code)
	if !ok {
		return nil, FieldError("code", "Enter the 6-digit code your authenticator app shows.")
	}
	if err := checkTOTP(ctx, db, tf, code, now); err != nil {
		return nil, err
	}
	var codes []string
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_totp SET enabled_at = ? WHERE user_id = ? AND enabled_at IS NULL`, now.UTC(), userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return Errorf(EConflict, "Two-factor sign-in is already on.")
		}
		codes, err = replaceRecoveryCodes(ctx, tx, userID)
		return err
	})
	return codes, err
}

// NewRecoveryCodes replaces a user's recovery codes with ten new ones.
func NewRecoveryCodes(ctx context.Context, db *Catalog, userID string) ([]string, error) {
	var codes []string
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		codes, err = replaceRecoveryCodes(ctx, tx, userID)
		return err
	})
	return codes, err
}

func replaceRecoveryCodes(ctx context.Context, tx *sqlx.Tx, userID string) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return nil, err
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s := strings.ToLower(recoveryEncoding.EncodeToString(b))[:10]
		codes[i] = s[:5] + "-" + s[5:]
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)`, userID, hashRecoveryCode(s)); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func hashRecoveryCode(normal string) string {
	sum := sha256.Sum256([]byte("atrium-recovery|" + normal))
	return hex.EncodeToString(sum[:])
}

// RecoveryCodesLeft counts a user's unused recovery codes.
func RecoveryCodesLeft(ctx context.Context, q sqlx.QueryerContext, userID string) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, userID)
	return n, err
}

// DisableTwoFactor removes a user's secret and recovery codes.
func DisableTwoFactor(ctx context.Context, db *Catalog, userID string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_totp WHERE user_id = ?`, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID)
		return err
	})
}

// ErrWrongCode is the answer to a code that is well formed but not right.
var ErrWrongCode = &Error{Code: EUnauthorized, Field: "code", Message: "The code is not right."}

// VerifyTwoFactor checks the second factor of a user whose two-factor
// sign-in is on: a current code of their app, which is then spent (it and
// every earlier one are refused from then on), or one of their recovery
// codes, which is then deleted.
func VerifyTwoFactor(ctx context.Context, db *Catalog, userID, code string, now time.Time) error {
	tf, err := GetTwoFactor(ctx, db.W, userID)
	if ErrorCode(err) == ENotFound || (err == nil && tf.EnabledAt == nil) {
		return Errorf(EInvalid, "Two-factor sign-in is not on for this account.")
	}
	if err != nil {
		return err
	}
	if c, ok := normalTOTP(code); ok {
		return checkTOTP(ctx, db, tf, c, now)
	}
	if c, ok := normalRecovery(code); ok {
		res, err := db.W.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?`, userID, hashRecoveryCode(c))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrWrongCode
		}
		return nil
	}
	return FieldError("code", "Enter the 6-digit code your authenticator app shows, or a recovery code like abcde-fghij.")
}

// checkTOTP accepts a code of the step before, of, or after now's (clocks
// drift), and spends it: the row's last step moves to the code's, in one
// conditional update, so two requests with one code cannot both pass.
func checkTOTP(ctx context.Context, db *Catalog, tf *TwoFactor, code string, now time.Time) error {
	step := now.Unix() / totpPeriod
	matched := int64(-1)
	for _, s := range []int64{step - 1, step, step + 1} {
		want, err := totp.GenerateCodeCustom(tf.Secret, time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = s
		}
	}
	if matched < 0 {
		return ErrWrongCode
	}
	res, err := db.W.ExecContext(ctx, `UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ?`, matched, tf.UserID, matched)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &Error{Code: EUnauthorized, Field: "code", Message: "This code was used already; wait for the next one."}
	}
	return nil
}

// normalTOTP drops spaces from a code and says whether six digits remain.
func normalTOTP(code string) (string, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return "", false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return code, true
}

// normalRecovery drops spaces and dashes from a recovery code, lowers its
// case, and says whether ten base-32 characters remain.
func normalRecovery(code string) (string, bool) {
	code = strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code)))
	if len(code) != 10 {
		return "", false
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z') && !(r >= '2' && r <= '7') {
			return "", false
		}
	}
	return code, true
}

// RequireTwoFactor says whether the instance makes two-factor sign-in
// compulsory.
func RequireTwoFactor(ctx context.Context, q sqlx.QueryerContext) (bool, error) {
	var v []byte
	err := sqlx.GetContext(ctx, q, &v, `SELECT value FROM settings WHERE key = ?`, settingRequire2FA)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return string(v) == "1", err
}

// SetRequireTwoFactor turns the instance's requirement on or off.
func SetRequireTwoFactor(ctx context.Context, db *Catalog, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	_, err := db.W.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		settingRequire2FA, []byte(v))
	return err
}
