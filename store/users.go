package store

import (
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// User is an instance account; one login across workspaces.
type User struct {
	ID           string    `db:"id" json:"id"`
	Email        string    `db:"email" json:"email"`
	Name         string    `db:"name" json:"name"`
	PasswordHash string    `db:"password_hash" json:"-"`
	Superadmin   bool      `db:"superadmin" json:"superadmin"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
}

// NewUser is what it takes to create a user.
type NewUser struct {
	Email      string
	Name       string
	Password   string
	Superadmin bool
}

// NormalizeEmail trims an address and checks it is one plain address.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if email == "" || err != nil || addr.Address != email || len(email) > 254 {
		return "", Errorf(EValidation, "%q is not a valid email address.", email)
	}
	return email, nil
}

// CreateUser validates and inserts a user with a bcrypt hash of the password.
func CreateUser(ctx context.Context, db *DB, nu NewUser) (*User, error) {
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	if len(nu.Password) < MinPasswordLength {
		return nil, Errorf(EValidation, "The password must be at least %d characters long.", MinPasswordLength)
	}
	if len(nu.Password) > 72 {
		return nil, Errorf(EValidation, "The password must be at most 72 bytes long.")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(nu.Password), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	u := &User{
		ID:           uuid.Must(uuid.NewV7()).String(),
		Email:        email,
		Name:         strings.TrimSpace(nu.Name),
		PasswordHash: string(hash),
		Superadmin:   nu.Superadmin,
		CreatedAt:    time.Now().UTC(),
	}
	_, err = db.W.NamedExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, superadmin, created_at)
		VALUES (:id, :email, :name, :password_hash, :superadmin, :created_at)`, u)
	if isUniqueViolation(err) {
		return nil, Errorf(EConflict, "A user with the email %s already exists.", email)
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
