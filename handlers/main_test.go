package handlers

import (
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"atrium/store"
)

func TestMain(m *testing.M) {
	// Password hashing at the production cost would dominate these tests
	// (seconds per fixture under the race detector); the cost is not what
	// they test.
	store.PasswordCost = bcrypt.MinCost
	os.Exit(m.Run())
}
